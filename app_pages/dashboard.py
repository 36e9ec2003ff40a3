"""Dashboard: KPIs for a chosen period against the one before, breached tickets and charts; every
number is aggregated in SQL (ticketdesk.services.dashboard), this page only lays them out."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from app_components import keys
from app_components.charts import show_charts
from app_components.kpi_cards import Better, Card, Change, cards_html, change
from app_components.kpi_help import kpi_help
from app_components.live_plan import DASHBOARD_EVERY
from app_components.session import (
    engine,
    follow_changes,
    now,
    page_errors,
    remember_revision,
    signed_in,
)
from app_components.text import escape_markdown
from ticketdesk.domain.accounts import Account, Action, require
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.dashboard import Dashboard, Period, Share

CUSTOM = 0
PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days", CUSTOM: "Custom"}


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def hours_change(current: float | None, previous: float | None) -> Change | None:
    """A change in hours (shorter is better), to a tenth."""
    if current is None or previous is None:
        return None
    moved = round(current - previous, 1) + 0.0  # + 0.0: never "-0.0"
    return change(moved, f"{moved:.1f}", better="lower")


def count_change(moved: int, better: Better | None) -> Change:
    """A change in a count, grouped like the count ("1,234", "-1,234", "0")."""
    return change(moved, f"{moved:,}", better)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def points_change(current: float | None, previous: float | None, better: Better) -> Change | None:
    """A change in percentage points ("+5.7 pp", "0.0 pp")."""
    if current is None or previous is None:
        return None
    moved = round(current - previous, 1) + 0.0
    return change(moved, "0.0 pp" if moved == 0 else f"{moved:+.1f} pp", better)


def chosen_period() -> Period | None:
    """The period the widgets name; None (with a message) while a custom range is unfinished."""
    choice = st.segmented_control(
        "Period",
        list(PERIODS),
        format_func=PERIODS.__getitem__,
        default=30,
        required=True,
        key=keys.PERIOD,
    )
    if choice != CUSTOM:
        return dashboard_service.last_days(now(), choice)
    today = now().date()
    picked = st.date_input(
        "From – to (UTC days, both included)",
        value=(today - timedelta(days=29), today),
        max_value=today,
        format="YYYY-MM-DD",
        key=keys.PERIOD_DATES,
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        st.info("Pick the last day of the period too.", icon=":material/date_range:")
        return None
    try:
        return dashboard_service.custom_period(now(), picked[0], picked[1])
    except TicketDeskError as exc:
        st.error(escape_markdown(str(exc)))
        return None


def kpi_cards(data: Dashboard) -> list[Card]:
    """The nine cards of the period, by row: volume, first response, resolution."""
    cur, prev = data.current, data.previous
    versus = f"vs previous {data.period.days} days"
    fr, res = cur.first_response.count, cur.resolution.count
    volume = [
        Card(
            "Number of open tickets",
            f"{data.open_at_period_end:,}",
            kpi_help("Number of open tickets"),
            count_change(data.open_at_period_end - data.open_at_period_start, better="lower"),
            f"since {data.period.first:%b %d}",
        ),
        Card(
            "New tickets",
            f"{cur.created:,}",
            kpi_help("New tickets"),
            count_change(cur.created - prev.created, better=None),
            versus,
        ),
        Card(
            "Reopen rate",
            percent(cur.reopen_rate),
            f"{kpi_help('Reopen rate')} Reopens {cur.reopens:,}, closes {cur.closes:,}.",
            points_change(cur.reopen_rate, prev.reopen_rate, better="lower"),
            versus,
        ),
    ]
    return [
        *volume,
        timing_card("First response time (hours)", fr, cur.first_response.hours,
                    prev.first_response.hours, versus),
        timing_card("Median first response (hours)", fr, cur.first_response_median,
                    prev.first_response_median, versus),
        share_card("First responses within target", cur.sla.first_response,
                   prev.sla.first_response, versus),
        timing_card("Average resolution time (hours)", res, cur.resolution.hours,
                    prev.resolution.hours, versus),
        timing_card("Median resolution time (hours)", res, cur.resolution_median,
                    prev.resolution_median, versus),
        share_card("Resolutions within target", cur.sla.resolution, prev.sla.resolution,
                   versus),
    ]  # fmt: skip


def timing_card(
    label: str, counted: int, value: float | None, before: float | None, versus: str
) -> Card:
    return Card(
        label,
        hours(value),
        f"{kpi_help(label)} Tickets counted: {counted:,}.",
        hours_change(value, before),
        versus,
    )


def share_card(label: str, share: Share, earlier: Share, versus: str) -> Card:
    return Card(
        label,
        percent(share.percent),
        f"{kpi_help(label)} Deadlines in the period: {share.total:,}, met {share.met:,}, "
        f"missed {share.missed:,}.",
        points_change(share.percent, earlier.percent, better="higher"),
        versus,
    )


def show_metrics(data: Dashboard) -> None:
    st.html(cards_html(kpi_cards(data)))


def show_breaches(data: Dashboard, may_change_targets: bool) -> None:
    st.subheader("Breached tickets")
    count, about = st.columns([1, 2], vertical_alignment="center")
    with count:
        label = "Open tickets past a target"
        st.html(cards_html([Card(label, f"{data.open_past_target:,}", kpi_help(label))], 1))
    targets = ", ".join(
        f"{p} {t.first_response_hours:g} h / {t.resolution_hours:g} h"
        for p, t in data.targets.items()
    )
    about.caption(
        "Listed: Open or In Progress tickets past a deadline now, and tickets whose deadline "
        "fell in the period but were answered or closed late; the "
        f"{dashboard_service.BREACH_LIMIT} furthest past a deadline, most overdue first. "
        f"SLA targets (first response / resolution): {targets}."
    )
    if may_change_targets:  # the Settings page exists only in an admin's navigation
        about.page_link("app_pages/settings.py", label="Change the targets", icon=":material/tune:")
    if not data.breaches:
        st.success("No ticket is past a deadline.", icon=":material/task_alt:")
        return
    # The list is drawn only while its expander is open (it stays open across runs): a second
    # grid on the page cost the browser about as much as everything else but the charts.
    with st.expander(
        f"List the {len(data.breaches):,} tickets furthest past a deadline",
        key=keys.BREACH_LIST,
        on_change="rerun",
        icon=":material/list:",
    ) as listed:
        if listed.open:
            show_breach_list(data)


def show_breach_list(data: Dashboard) -> None:
    rows = pd.DataFrame(
        [
            {
                "Ticket": b.code,
                "Priority": b.priority,
                "Status": b.status,
                "Assignee": b.assignee or "Unassigned",
                "First response": b.state.first_response.label,
                "Resolution": b.state.resolution.label,
                "Hours past deadline": b.late_by.total_seconds() / 3600,
            }
            for b in data.breaches
        ]
    )
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={"Hours past deadline": st.column_config.NumberColumn(format="%.1f")},
    )


@st.cache_data(max_entries=64, show_spinner="Counting…")
def dashboard_at(_by: Account, revision: int, minute: datetime, period: Period) -> Dashboard:
    """The dashboard, shared by every session of this server until the desk's revision (a row
    in the database, so never stale across servers) or the minute changes. At a million
    tickets the medians and SLA figures cost up to a second; viewers redraw on every change,
    and this way they pay for it once. (`_by`, a staff account, is not part of the key: the
    figures are the same for everyone allowed to see them; the page checks that first.)"""
    return dashboard_service.dashboard(engine(), _by, minute, period=period)


st.title(":material/monitoring: Dashboard")
follow_changes()
period = chosen_period()
if period is not None:
    with page_errors():
        viewer = signed_in()
        require(viewer, Action.VIEW_DASHBOARD)
        minute = now().replace(second=0, microsecond=0)
        data = dashboard_at(viewer, ticket_service.desk_revision(engine()), minute, period)
        remember_revision(data.revision, every=DASHBOARD_EVERY)  # redrawn on any change
        previous = period.previous()
        st.caption(
            f"{period.first:%b %d, %Y} – {period.last:%b %d, %Y} ({period.days} UTC days), "
            f"compared with {previous.first:%b %d} – {previous.last:%b %d, %Y}. "
            "“–”: nothing to count in the period."
        )
        show_metrics(data)
        show_breaches(data, viewer.may(Action.CHANGE_SETTINGS))
        show_charts(data)
