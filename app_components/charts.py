"""The dashboard's charts (Altair): tickets per month and status, current priorities, and
open tickets per assignee, split by whether they are past a target. They receive the
aggregated rows only (ticketdesk.services.dashboard)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ticketdesk.domain.tickets import PRIORITIES, STATUSES
from ticketdesk.services.dashboard import Dashboard

STATUS_COLOURS = ["#f97316", "#3b82f6", "#22c55e"]  # Open, In Progress, Closed
PRIORITY_COLOURS = ["#dc2626", "#f59e0b", "#94a3b8"]  # High, Medium, Low
LOAD_COLOURS = ["#dc2626", "#3b82f6"]  # past a target, within targets


def show_charts(data: Dashboard) -> None:
    st.subheader("Ticket status per month")
    by_month = pd.DataFrame(data.status_per_month, columns=["Month", "Status", "Tickets"])
    st.altair_chart(
        alt.Chart(by_month)
        .mark_bar()
        .encode(
            x=alt.X("Month:O", title="Month submitted", axis=alt.Axis(labelAngle=0)),
            # Every status keeps its slot, so bars do not change width as statuses come and go.
            xOffset=alt.XOffset("Status:N", scale=alt.Scale(domain=list(STATUSES))),
            y=alt.Y("Tickets:Q", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color(
                "Status:N", scale=alt.Scale(domain=list(STATUSES), range=STATUS_COLOURS)
            ),
            tooltip=["Month:O", "Status:N", "Tickets:Q"],
        )
        .properties(height=320),
        width="stretch",
    )
    left, right = st.columns(2)
    with left:
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
                tooltip=["Priority:N", "Tickets:Q"],
            )
            .properties(height=320),
            width="stretch",
        )
    with right:
        st.subheader("Open tickets by assignee")
        show_assignees(data)


def show_assignees(data: Dashboard) -> None:
    if not data.by_assignee:
        st.info("No open tickets.", icon=":material/inbox:")
        return
    order = [load.assignee or "Unassigned" for load in data.by_assignee]
    states = ["Past a target", "Within targets"]
    rows = pd.DataFrame(
        [
            (load.assignee or "Unassigned", state, n, load.open)
            for load in data.by_assignee
            for state, n in zip(
                states, (load.past_target, load.open - load.past_target), strict=True
            )
            if n
        ],
        columns=["Assignee", "SLA", "Tickets", "Open"],
    )
    st.altair_chart(
        alt.Chart(rows)
        .mark_bar()
        .encode(
            y=alt.Y("Assignee:N", sort=order, title=None),
            x=alt.X("Tickets:Q", title="Open tickets", axis=alt.Axis(format="d", tickMinStep=1)),
            color=alt.Color("SLA:N", scale=alt.Scale(domain=states, range=LOAD_COLOURS)),
            order=alt.Order("SLA:N", sort="descending"),
            tooltip=["Assignee:N", "SLA:N", "Tickets:Q", "Open:Q"],
        )
        .properties(height=max(120, 32 * len(order) + 40)),
        width="stretch",
    )
