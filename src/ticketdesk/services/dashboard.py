"""Services for the dashboard and its settings: plain values in and out, one transaction each.
The KPI definitions are written once, in docs/kpis.md; queries/kpis.py computes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine

from ticketdesk.domain import durations, sla
from ticketdesk.domain.accounts import Account, Action, require
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.sla import SlaState, SlaTarget, Targets
from ticketdesk.domain.tickets import Priority, day_start, ticket_code
from ticketdesk.queries import desk, kpis, late_tickets
from ticketdesk.queries.kpis import Activity, Mean
from ticketdesk.queries.kpis import Share as Share  # the pages show shares: their name for it
from ticketdesk.queries.late_tickets import AssigneeLoad
from ticketdesk.store import settings as settings_store
from ticketdesk.store import targets as target_store
from ticketdesk.store.db import read, run_transaction

BREACH_LIMIT = 50
"""The breached-tickets list shows at most this many, the most overdue first."""
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class Period:
    """The whole UTC days first..last (inclusive): [00:00 of first, 00:00 after last)."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1))

    def previous(self) -> Period:
        """The period of the same length right before this one."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))


def last_days(now: datetime, days: int) -> Period:
    """The `days` whole UTC days ending today (today included)."""
    if days < 1:
        raise ValueError("period_days must be at least 1")
    today = now.astimezone(UTC).date()
    return Period(today - timedelta(days=days - 1), today)


def custom_period(now: datetime, first: date, last: date) -> Period:
    """first..last as chosen by a person: checked, with a message saying what is wrong."""
    today = now.astimezone(UTC).date()
    if first > last:
        raise ValidationError("The period starts after it ends; pick the start date first.")
    if last > today:
        raise ValidationError(f"The period cannot end after today ({today:%b %d, %Y}, UTC).")
    period = Period(first, last)
    if period.days > MAX_PERIOD_DAYS:
        raise ValidationError(
            f"Choose at most {MAX_PERIOD_DAYS} days; this range has {period.days:,}."
        )
    return period


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    created: int
    closes: int
    reopens: int
    first_response: Mean
    first_response_median: float | None
    resolution: Mean
    resolution_median: float | None
    sla: kpis.SlaAchievement

    @property
    def reopen_rate(self) -> float | None:
        """Reopens per 100 closes in the period; None without closes."""
        return None if self.closes == 0 else 100.0 * self.reopens / self.closes


@dataclass(frozen=True)
class Breach:
    """A ticket with a missed deadline: open past it now, or met late in the period."""

    ticket_id: int
    priority: str
    status: str
    assignee: str | None
    state: SlaState
    late_by: timedelta  # the furthest past one of its deadlines (open: so far)

    @property
    def code(self) -> str:
        return ticket_code(self.ticket_id)


@dataclass(frozen=True)
class Dashboard:
    current: PeriodFigures
    previous: PeriodFigures
    open_now: int
    open_at_period_start: int
    open_at_period_end: int  # open now when the period ends today
    targets: dict[Priority, SlaTarget]
    breaches: list[Breach]  # the BREACH_LIMIT most overdue
    open_past_target: int  # Open or In Progress tickets past a deadline now
    by_assignee: list[AssigneeLoad]
    status_per_month: list[tuple[str, str, int]]
    priority_counts: list[tuple[str, int]]
    revision: int  # the desk revision these numbers were read at

    @property
    def period(self) -> Period:
        return self.current.period

    @property
    def period_days(self) -> int:
        return self.period.days

    @property
    def first_day(self) -> date:
        return self.period.first

    @property
    def created(self) -> int:
        return self.current.created

    @property
    def first_response(self) -> Mean:
        return self.current.first_response

    @property
    def first_response_previous(self) -> Mean:
        return self.previous.first_response

    @property
    def resolution(self) -> Mean:
        return self.current.resolution

    @property
    def resolution_previous(self) -> Mean:
        return self.previous.resolution


def dashboard(
    engine: Engine,
    by: Account,
    now: datetime,
    period_days: int = 30,
    period: Period | None = None,
) -> Dashboard:
    """KPIs for `period` (default: the `period_days` UTC days ending today, today included),
    against the period of the same length before it; one read transaction. Staff only."""
    require(by, Action.VIEW_DASHBOARD)
    chosen = period or last_days(now, period_days)
    today = now.astimezone(UTC).date()

    def work(conn: Connection) -> Dashboard:
        targets = target_store.load_targets(conn)
        open_now = kpis.open_tickets_now(conn)
        since_start = kpis.activity(conn, chosen.first, today)
        after_end = kpis.activity(conn, chosen.last + timedelta(days=1), today)
        by_assignee = late_tickets.open_by_assignee(conn, targets, now)
        return Dashboard(
            current=_figures(conn, chosen, targets, now),
            previous=_figures(conn, chosen.previous(), targets, now),
            open_now=open_now,
            open_at_period_start=open_now - _net_opened(since_start),
            open_at_period_end=open_now - _net_opened(after_end),
            targets=dict(targets),
            breaches=_breaches(conn, targets, chosen, now),
            open_past_target=sum(load.past_target for load in by_assignee),
            by_assignee=by_assignee,
            status_per_month=kpis.status_per_month(conn),
            priority_counts=kpis.priority_counts(conn),
            revision=desk.current_revision(conn),
        )

    return read(engine, work)


def _net_opened(activity: Activity) -> int:
    """How much the open count grew over the days of `activity`."""
    return activity.created - activity.closes + activity.reopens


def _figures(conn: Connection, period: Period, targets: Targets, now: datetime) -> PeriodFigures:
    counted = kpis.activity(conn, period.first, period.last)
    return PeriodFigures(
        period=period,
        created=counted.created,
        closes=counted.closes,
        reopens=counted.reopens,
        first_response=counted.first_response,
        first_response_median=kpis.median_hours(
            conn, durations.FIRST_RESPONSE, period.first, period.last
        ),
        resolution=counted.resolution,
        resolution_median=kpis.median_hours(conn, durations.RESOLUTION, period.first, period.last),
        # Deadlines still ahead of `now` are not decided yet.
        sla=kpis.sla_achievement(conn, targets, period.start, min(period.end, now)),
    )


def _breaches(conn: Connection, targets: Targets, period: Period, now: datetime) -> list[Breach]:
    """Open tickets past a deadline now, and tickets that met a deadline of the period late:
    the BREACH_LIMIT furthest past one, each once. SQL picks the most overdue of each kind; the
    labels and the order come from sla_state, so they read as in the ticket table."""
    window_end = min(period.end, now)
    rows = late_tickets.overdue_open(conn, targets, now, BREACH_LIMIT)
    rows += late_tickets.missed_in(conn, targets, period.start, window_end, BREACH_LIMIT)
    found: dict[int, Breach] = {}
    for row in rows:
        state = sla.sla_state(
            row.priority,
            row.created_at,
            row.first_response_at,
            row.closed_at,
            row.status,
            targets,
            now,
        )
        late = [
            clock.late_by
            for clock in (state.first_response, state.resolution)
            if clock.late_by is not None
            and (clock.overdue_now or period.start <= clock.due < window_end)
        ]
        if late:
            found[row.id] = Breach(row.id, row.priority, row.status, row.assignee, state, max(late))
    ranked = sorted(found.values(), key=lambda b: (-b.late_by, b.ticket_id))
    return ranked[:BREACH_LIMIT]


def sla_targets(engine: Engine) -> dict[Priority, SlaTarget]:
    """The SLA targets per priority, as stored."""
    return read(engine, target_store.load_targets)


def save_sla_targets(
    engine: Engine,
    by: Account,
    raw: Mapping[str, tuple[object, object]],
    expected: Targets | None = None,
) -> dict[Priority, SlaTarget]:
    """Validate and store all three priorities' targets in one transaction. With `expected`
    (the targets the form was drawn from), refuse with StaleTargets if someone changed them
    since. Changed targets recount which deadlines were met (deadline_counts: one pass over
    the tickets, in the same transaction). Returns the stored targets. Admins only."""
    require(by, Action.CHANGE_SETTINGS)
    targets = sla.validate_targets(raw)

    def work(conn: Connection) -> dict[Priority, SlaTarget]:
        _, stored = settings_store.store_targets(conn, targets, expected)
        return stored

    return run_transaction(engine, work)
