"""Dashboard: KPIs from the recorded history and the two charts, all aggregated in SQL."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from app_pages.shared import (
    choose_actor,
    database_errors,
    engine,
    follow_changes,
    now,
    remember_revision,
)
from ticketdesk import reporting
from ticketdesk.domain import PRIORITIES, STATUSES
from ticketdesk.statistics import Mean

STATUS_COLOURS = ["#f97316", "#3b82f6", "#22c55e"]  # Open, In Progress, Closed
PRIORITY_COLOURS = ["#dc2626", "#f59e0b", "#94a3b8"]  # High, Medium, Low
PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days"}
HELP = {
    "open": "Tickets whose status is Open or In Progress now. The change is against the "
    "same count at the start of the period (00:00 UTC of its first day).",
    "first": "Mean hours from a ticket's creation to its first status change out of Open, "
    "over the tickets first answered in the period (whole UTC days, today included).",
    "resolution": "Mean hours from a ticket's creation to its latest change to Closed, over "
    "the tickets that are Closed now and were last closed in the period.",
}


def hours(mean: Mean) -> str:
    return "–" if mean.hours is None else f"{mean.hours:.1f}"


def hours_delta(current: Mean, previous: Mean) -> float | None:
    if current.hours is None or previous.hours is None:
        return None
    return round(current.hours - previous.hours, 1)


st.title(":material/monitoring: Dashboard")
choose_actor()
period = st.segmented_control(
    "Period", list(PERIODS), format_func=PERIODS.__getitem__, default=30, key="period"
)
period_days = period or 30
versus = f"vs previous {period_days} days"

with database_errors():
    engine()
    data = reporting.dashboard(engine(), now(), period_days)
    remember_revision(data.revision)

    open_col, first_col, resolution_col = st.columns(3)
    open_col.metric(
        "Number of open tickets",
        f"{data.open_now:,}",
        delta=data.open_now - data.open_at_period_start,
        delta_color="inverse",
        delta_description=f"since {data.first_day:%b %d}",
        help=HELP["open"],
        border=True,
    )
    first_col.metric(
        "First response time (hours)",
        hours(data.first_response),
        delta=hours_delta(data.first_response, data.first_response_previous),
        delta_color="inverse",
        delta_description=versus,
        help=f"{HELP['first']} Tickets counted: {data.first_response.count:,}.",
        border=True,
    )
    resolution_col.metric(
        "Average resolution time (hours)",
        hours(data.resolution),
        delta=hours_delta(data.resolution, data.resolution_previous),
        delta_color="inverse",
        delta_description=versus,
        help=f"{HELP['resolution']} Tickets counted: {data.resolution.count:,}.",
        border=True,
    )

    st.subheader("Ticket status per month")
    by_month = pd.DataFrame(data.status_per_month, columns=["Month", "Status", "Tickets"])
    st.altair_chart(
        alt.Chart(by_month)
        .mark_bar()
        .encode(
            x=alt.X("Month:O", title="Month submitted"),
            xOffset=alt.XOffset("Status:N", sort=list(STATUSES)),
            y=alt.Y("Tickets:Q"),
            color=alt.Color(
                "Status:N", scale=alt.Scale(domain=list(STATUSES), range=STATUS_COLOURS)
            ),
            tooltip=["Month", "Status", "Tickets"],
        )
        .properties(height=320),
        width="stretch",
    )

    st.subheader("Current ticket priorities")
    by_priority = pd.DataFrame(data.priority_counts, columns=["Priority", "Tickets"])
    st.altair_chart(
        alt.Chart(by_priority)
        .mark_arc(innerRadius=0)
        .encode(
            theta=alt.Theta("Tickets:Q"),
            color=alt.Color(
                "Priority:N", scale=alt.Scale(domain=list(PRIORITIES), range=PRIORITY_COLOURS)
            ),
            tooltip=["Priority", "Tickets"],
        )
        .properties(height=320),
        width="stretch",
    )

# Last, so a full run has already noted the revision it drew (see follow_changes).
follow_changes()
