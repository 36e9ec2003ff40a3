"""The dashboard's stored durations and counter tables (duration_counts, deadline_counts) against
counts made by hand from the SLA definitions in sla.py: a deadline is the creation time plus
the target of the ticket's current priority; the first response meets it if it came no later
than the deadline + 1 ms; the resolution meets it if the ticket is Closed now and its
closed_at is no later than the deadline + 1 ms; an unanswered or unclosed ticket is due but
has not met it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select

from tests.support.databases import empty_desk
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.sla import SlaTarget
from ticketdesk.domain.tickets import PRIORITIES, STATUSES, Priority, TicketChange
from ticketdesk.queries import sla_shares
from ticketdesk.services import accounts as account_service
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import projections
from ticketdesk.store import targets as target_store
from ticketdesk.store.db import make_engine, migrate
from ticketdesk.store.schema import UTCDateTime, deadline_days, duration_counts, tickets
from ticketdesk.store.schema import deadline_counts as deadline_table
from ticketdesk.store.sqlfunctions import hours_between

TOLERANCE = timedelta(milliseconds=1)  # the definition's "to the millisecond"
BASE = datetime(2026, 3, 2, tzinfo=UTC)
US = timedelta(microseconds=1)

RawTargets = dict[str, tuple[float, float]]


# -- counting by hand ------------------------------------------------------------------------


def deadlines(row: dict[str, Any], targets: RawTargets) -> tuple[datetime, datetime]:
    first_hours, resolution_hours = targets[row["priority"]]
    created: datetime = row["created_at"]
    return created + timedelta(hours=first_hours), created + timedelta(hours=resolution_hours)


def first_met(row: dict[str, Any], due: datetime) -> bool:
    answered: datetime | None = row["first_response_at"]
    return answered is not None and answered <= due + TOLERANCE


def resolution_met(row: dict[str, Any], due: datetime) -> bool:
    closed: datetime | None = row["closed_at"]
    return row["status"] == "Closed" and closed is not None and closed <= due + TOLERANCE


def shares_by_hand(
    rows: list[dict[str, Any]], targets: RawTargets, start: datetime, end: datetime
) -> tuple[tuple[int, int], tuple[int, int]]:
    """((first met, first due), (resolution met, resolution due)) for deadlines in [start, end)."""
    first = [0, 0]
    resolution = [0, 0]
    for row in rows:
        first_due, resolution_due = deadlines(row, targets)
        if start <= first_due < end:
            first[1] += 1
            first[0] += first_met(row, first_due)
        if start <= resolution_due < end:
            resolution[1] += 1
            resolution[0] += resolution_met(row, resolution_due)
    return (first[0], first[1]), (resolution[0], resolution[1])


def deadline_rows_by_hand(
    rows: list[dict[str, Any]], targets: RawTargets
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """deadline_counts as the definitions make it: per (priority, UTC creation hour)."""
    found: dict[tuple[str, str], tuple[int, int, int]] = {}
    for row in rows:
        first_due, resolution_due = deadlines(row, targets)
        key = (row["priority"], row["created_at"].astimezone(UTC).strftime("%Y-%m-%d %H"))
        n, f, r = found.get(key, (0, 0, 0))
        found[key] = (
            n + 1,
            f + first_met(row, first_due),
            r + resolution_met(row, resolution_due),
        )
    return found


def stored_deadline_rows(conn: Connection) -> dict[tuple[str, str], tuple[int, int, int]]:
    return {
        (r.priority, r.hour): (r.tickets, r.first_met, r.resolution_met)
        for r in conn.execute(select(deadline_table))
        if (r.tickets, r.first_met, r.resolution_met) != (0, 0, 0)
    }


DeadlineRows = dict[tuple[str, str], tuple[int, ...]]


def per_day(rows: Mapping[tuple[str, str], tuple[int, ...]]) -> DeadlineRows:
    """deadline_days as it should be: the rows of deadline_counts summed per creation day."""
    days: DeadlineRows = {}
    for (priority, hour), amounts in rows.items():
        before = days.get((priority, hour[:10]), (0, 0, 0))
        days[(priority, hour[:10])] = tuple(a + b for a, b in zip(before, amounts, strict=True))
    return {key: amounts for key, amounts in days.items() if amounts != (0, 0, 0)}


def stored_deadline_days(conn: Connection) -> DeadlineRows:
    return {
        (r.priority, r.day): (r.tickets, r.first_met, r.resolution_met)
        for r in conn.execute(select(deadline_days))
        if (r.tickets, r.first_met, r.resolution_met) != (0, 0, 0)
    }


def stored_duration_rows(conn: Connection) -> dict[tuple[str, str, int], int]:
    return {
        (r.measure, r.day, r.bucket): r.tickets
        for r in conn.execute(select(duration_counts))
        if r.tickets
    }


def ticket_rows(conn: Connection) -> list[dict[str, Any]]:
    t = tickets.c
    query = select(t.id, t.created_at, t.priority, t.status, t.first_response_at, t.closed_at)
    return [dict(r._mapping) for r in conn.execute(query.order_by(t.id))]


def as_targets(raw: RawTargets) -> dict[Priority, SlaTarget]:
    return {Priority(p): SlaTarget(first, resolution) for p, (first, resolution) in raw.items()}


def in_bucket(seconds: float, bucket: int) -> bool:
    """Bucket 0 holds under 1 s; bucket b >= 1 holds [e^((b-1)/24), e^(b/24)) seconds."""
    if seconds < 1:
        return bucket == 0
    return math.exp((bucket - 1) / 24) <= seconds < math.exp(bucket / 24)


# -- the property test -----------------------------------------------------------------------

FIRST_HOURS = (0.1, 0.25, 0.5, 1.0, 1.25, 2.0, 2.75)
EXTRA_HOURS = (0.0, 0.5, 1.25, 3.0, 6.5)  # resolution = first + extra: never shorter
# Where a step lands around one of its ticket's deadlines (the +1 ms point itself is left to
# test_a_response_exactly_one_millisecond_late_meets_the_deadline).
SHIFTS_US = (-1_000_000, -1, 0, 1, 999, 999, 1_001, 1_000_000)


@dataclass(frozen=True)
class Step:
    which: int  # ticket, modulo how many there are
    at: str  # "after": `amount` seconds after the ticket's last step; else a deadline kind
    amount: int  # seconds, or microseconds around the deadline
    status: str | None
    priority: str | None
    message: str | None


@dataclass(frozen=True)
class Window:
    anchor: str  # "base": `amount` seconds after BASE; "hour": whole hours; "first"/"resolution"
    amount: int  # seconds / hours / which ticket's deadline
    shift_us: int  # moved by this many microseconds
    length_us: int
    anchor_is_end: bool  # the anchor is the (excluded) end instead of the start
    zone_minutes: int  # the window is given in this UTC offset

    def bounds(self, rows: list[dict[str, Any]], targets: RawTargets) -> tuple[datetime, datetime]:
        if self.anchor == "base":
            anchor = BASE + timedelta(seconds=self.amount)
        elif self.anchor == "hour":
            anchor = BASE + timedelta(hours=self.amount)
        else:
            first_due, resolution_due = deadlines(rows[self.amount % len(rows)], targets)
            anchor = first_due if self.anchor == "first" else resolution_due
        anchor += self.shift_us * US
        zone = timezone(timedelta(minutes=self.zone_minutes))
        if self.anchor_is_end:
            start, end = anchor - self.length_us * US, anchor
        else:
            start, end = anchor, anchor + self.length_us * US
        return start.astimezone(zone), end.astimezone(zone)


targets_strategy = st.fixed_dictionaries(
    {
        p: st.tuples(st.sampled_from(FIRST_HOURS), st.sampled_from(EXTRA_HOURS)).map(
            lambda pair: (pair[0], pair[0] + pair[1])
        )
        for p in PRIORITIES
    }
)
new_tickets = st.lists(
    st.tuples(
        st.integers(0, 6 * 3600 - 1),  # seconds after BASE
        st.sampled_from([0, 0, 250_000, 999_999]),  # and microseconds
        st.sampled_from(PRIORITIES),
    ),
    min_size=1,
    max_size=4,
)
steps_strategy = st.lists(
    st.one_of(
        st.builds(
            Step,
            which=st.integers(0, 3),
            at=st.just("after"),
            amount=st.integers(1, 3 * 3600),
            status=st.sampled_from(STATUSES) | st.none(),
            priority=st.sampled_from(PRIORITIES) | st.none(),
            message=st.sampled_from(["reply", "note", "message"]) | st.none(),
        ),
        st.builds(
            Step,
            which=st.integers(0, 3),
            at=st.sampled_from(["first", "resolution"]),
            amount=st.sampled_from(SHIFTS_US),
            # Mostly moves that answer or close the ticket right at the deadline.
            status=st.sampled_from(["In Progress", "Closed", "Closed", None]),
            priority=st.none() | st.sampled_from(PRIORITIES),
            message=st.sampled_from(["reply", "reply", "note", None]),
        ),
    ),
    max_size=14,
)
windows_strategy = st.lists(
    st.one_of(
        st.builds(
            Window,
            anchor=st.just("base"),
            amount=st.integers(-2 * 3600, 30 * 3600),
            shift_us=st.sampled_from([0, 0, 1, 500_000]),
            length_us=st.integers(0, 20 * 3600).map(lambda s: s * 1_000_000),
            anchor_is_end=st.just(False),
            zone_minutes=st.sampled_from([0, 0, 330, -225]),
        ),
        st.builds(
            Window,
            anchor=st.just("hour"),
            amount=st.integers(-1, 28),
            shift_us=st.sampled_from([0, 0, -1, 1]),
            length_us=st.integers(0, 12).map(lambda h: h * 3_600_000_000)
            | st.integers(0, 3 * 3600).map(lambda s: s * 1_000_000),
            anchor_is_end=st.booleans(),
            zone_minutes=st.sampled_from([0, 330]),
        ),
        st.builds(
            Window,
            anchor=st.sampled_from(["first", "resolution"]),
            amount=st.integers(0, 3),
            shift_us=st.sampled_from([-1, 0, 1]),
            length_us=st.sampled_from([0, 1, 1_000_000, 3_600_000_000])
            | st.integers(0, 6 * 3600).map(lambda s: s * 1_000_000),
            anchor_is_end=st.booleans(),
            zone_minutes=st.just(0),
        ),
    ),
    min_size=1,
    max_size=8,
)
EVERYTHING = Window("base", -3 * 24 * 3600, 0, 10 * 24 * 3_600_000_000, False, 0)


# Hand-picked: answers and closes just inside / just outside the tolerance, a priority
# change, a reopen; targets saved before every edit (0) and after them all (8).
EDGE_TARGETS: RawTargets = {"High": (1.25, 2.75), "Medium": (0.5, 1.75), "Low": (0.1, 3.1)}
EDGE_TICKETS = [(1800, 250_000, "High"), (3599, 999_999, "Medium"), (7200, 0, "Low")]
EDGE_STEPS = [
    Step(0, "first", 999, "In Progress", None, None),  # 1.25 h + 0.999 ms: met
    Step(1, "first", 1_001, None, None, "reply"),  # 0.5 h + 1.001 ms: missed
    Step(2, "first", 0, None, "High", "reply"),  # now High, answered at 1.25 h: met
    Step(0, "resolution", 999, "Closed", None, None),  # 2.75 h + 0.999 ms: met
    Step(1, "resolution", -1, "Closed", None, None),  # 1.75 h - 1 us: met ...
    Step(1, "after", 60, "Open", None, None),  # ... until reopened
    Step(2, "resolution", 1_001, "Closed", None, None),  # 2.75 h + 1.001 ms: missed
]
EDGE_WINDOWS = [
    Window("first", 0, -1, 2, False, 0),
    Window("first", 1, 0, 1_000_000, True, 0),  # ends exactly at a deadline
    Window("resolution", 2, 0, 3_600_000_000, True, 330),
    Window("hour", 1, 0, 2 * 3_600_000_000, False, 0),
]


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=targets_strategy,
    filed=new_tickets,
    steps=steps_strategy,
    save_at=st.integers(0, 2) | st.integers(0, 20),
    save_again=st.booleans(),
    windows=windows_strategy,
)
@example(
    raw=EDGE_TARGETS,
    filed=EDGE_TICKETS,
    steps=EDGE_STEPS,
    save_at=0,
    save_again=False,
    windows=EDGE_WINDOWS,
)
@example(
    raw=EDGE_TARGETS,
    filed=EDGE_TICKETS,
    steps=EDGE_STEPS,
    save_at=8,
    save_again=True,
    windows=EDGE_WINDOWS,
)
def test_sla_shares_equal_a_count_by_hand(
    engine: Engine,
    admin: Account,
    agent: Account,
    requester: Account,
    raw: RawTargets,
    filed: list[tuple[int, int, str]],
    steps: list[Step],
    save_at: int,
    save_again: bool,
    windows: list[Window],
) -> None:
    empty_desk(engine)
    # Save the targets before the tickets exist (0), after filing them (1), or after step k
    # (k + 1): every write before the save is counted under the default targets and then
    # recounted by the save; every write after it is kept in step by the write itself.
    save_at = min(save_at, len(steps) + 1)

    def save() -> None:
        assert dashboard_service.save_sla_targets(engine, admin, raw) == as_targets(raw)

    if save_at == 0:
        save()
    ids: list[int] = []
    created: list[datetime] = []
    priority: list[str] = []
    last: list[datetime] = []
    for seconds, micro, level in filed:
        moment = BASE + timedelta(seconds=seconds, microseconds=micro)
        ids.append(ticket_service.create_ticket(engine, requester, "printer", level, moment).id)
        created.append(moment)
        priority.append(level)
        last.append(moment)
    if save_at == 1:
        save()
    for k, step in enumerate(steps, start=1):
        i = step.which % len(ids)
        level = step.priority or priority[i]
        if step.at == "after":
            moment = last[i] + timedelta(seconds=step.amount)
        else:
            first_hours, resolution_hours = raw[level]
            hours = first_hours if step.at == "first" else resolution_hours
            moment = created[i] + timedelta(hours=hours) + step.amount * US
            if moment <= last[i]:
                moment = last[i] + timedelta(seconds=1)
        change = TicketChange(status=step.status, priority=step.priority)
        ticket_service.update_ticket(engine, agent, ids[i], change, moment)
        if step.message is not None:
            author = requester if step.message == "message" else agent
            ticket_service.add_message(engine, author, ids[i], step.message, "hello", moment)
        priority[i], last[i] = level, moment
        if save_at == k + 1:
            save()
    if save_again:
        save()  # the same targets again: nothing to recount

    with engine.connect() as conn:
        rows = ticket_rows(conn)
        assert [r["priority"] for r in rows] == priority
        kept = stored_deadline_rows(conn)
        assert kept == deadline_rows_by_hand(rows, raw)
        assert stored_deadline_days(conn) == per_day(kept)
        for window in [*windows, EVERYTHING]:
            start, end = window.bounds(rows, raw)
            got = sla_shares.shares(conn, as_targets(raw), start, end)
            assert got == shares_by_hand(rows, raw, start, end), (window, start, end, rows)
    (_, all_due), (_, all_resolution_due) = shares_by_hand(rows, raw, *EVERYTHING.bounds(rows, raw))
    assert all_due == all_resolution_due == len(rows)

    with engine.begin() as conn:
        projections.rebuild(conn)
    with engine.connect() as conn:
        assert stored_deadline_rows(conn) == kept
        assert stored_deadline_days(conn) == per_day(kept)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    length=st.timedeltas(timedelta(0), timedelta(days=400)),
)
@example(  # microseconds that borrow a second: 0.999999 s, not 1.999999 s or -0.000001 s
    start=datetime(2026, 6, 1, 12, 0, 10, 999999, tzinfo=UTC), length=timedelta(microseconds=2)
)
def test_hours_between_is_exact_to_the_microsecond(
    engine: Engine, start: datetime, length: timedelta
) -> None:
    """The recount's durations in SQL equal the kept ones, worked out in Python."""
    end = start + length
    query = select(hours_between(sa.literal(start, UTCDateTime), sa.literal(end, UTCDateTime)))
    with engine.connect() as conn:
        in_sql = conn.execute(query).scalar_one()
    # A microsecond is 2.8e-10 h; this allows only float rounding, far below it.
    assert in_sql == pytest.approx(length / timedelta(hours=1), rel=1e-12, abs=1e-12)


def test_a_response_exactly_one_millisecond_late_meets_the_deadline(
    engine: Engine, admin: Account, agent: Account, requester: Account
) -> None:
    """The definition's edge: met when it comes no later than deadline + 1 ms."""
    raw: RawTargets = {"High": (1.0, 1.25), "Medium": (8.0, 72.0), "Low": (24.0, 168.0)}
    dashboard_service.save_sla_targets(engine, admin, raw)
    created = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    made = ticket_service.create_ticket(engine, requester, "printer", "High", created)
    # Answered at 10:00:00.001 (the 10:00 deadline + 1 ms), closed at 10:15:00.001 (the
    # 10:15 deadline + 1 ms): both met, by the definition.
    answered = created + timedelta(hours=1, milliseconds=1)
    ticket_service.add_message(engine, agent, made.id, "reply", "on it", answered)
    closed = created + timedelta(hours=1, minutes=15, milliseconds=1)
    ticket_service.update_ticket(engine, agent, made.id, TicketChange(status="Closed"), closed)
    start, end = created, created + timedelta(days=1)
    with engine.connect() as conn:
        assert stored_deadline_rows(conn) == {("High", "2026-03-02 09"): (1, 1, 1)}
        assert sla_shares.shares(conn, as_targets(raw), start, end) == ((1, 1), (1, 1))
    with engine.begin() as conn:
        projections.rebuild(conn)
    with engine.connect() as conn:
        assert stored_deadline_rows(conn) == {("High", "2026-03-02 09"): (1, 1, 1)}


def test_a_change_of_targets_waits_for_a_write_that_counts_under_the_old_ones(
    engine: Engine, admin: Account, agent: Account, requester: Account
) -> None:
    """PostgreSQL: a ticket write counts its deadlines met under the targets it read. A change
    of the targets committed in between would rebuild deadline_counts before that write adds
    its old-target count; so writes hold the targets in share mode and the change waits."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time (BEGIN IMMEDIATE)")
    created = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    made = ticket_service.create_ticket(engine, requester, "printer", "High", created)
    new_targets: RawTargets = {"High": (0.5, 2.0), "Medium": (8.0, 72.0), "Low": (24.0, 168.0)}
    outcome: list[object] = []

    def change_targets() -> None:
        try:
            outcome.append(dashboard_service.save_sla_targets(engine, admin, new_targets))
        except Exception as exc:  # recorded, checked below
            outcome.append(exc)

    with engine.connect() as writer:
        holding = writer.begin()
        target_store.load_targets(writer, for_share=True)  # what a write does before counting
        pid = writer.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        saver = threading.Thread(target=change_targets)
        saver.start()
        waiting_query = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
        )
        waiting, deadline = 0, time.monotonic() + 10
        with engine.connect() as watcher:
            while waiting == 0 and time.monotonic() < deadline:
                waiting = watcher.execute(waiting_query, {"pid": pid}).scalar_one()
                watcher.rollback()  # pg_stat_activity is a snapshot per transaction
                time.sleep(0.02)
        assert outcome == []  # the change has not gone through while the write is open
        holding.commit()
    saver.join(timeout=30)
    assert waiting == 1
    assert outcome == [as_targets(new_targets)]
    # The other way round: a write waits while a change of the targets holds them.
    replied: list[object] = []

    def reply() -> None:
        # After 40 min: met under 1 h (the old High target) but not under 0.5 h.
        answered = created + timedelta(minutes=40)
        try:
            replied.append(
                ticket_service.add_message(engine, agent, made.id, "reply", "hi", answered)
            )
        except Exception as exc:  # recorded, checked below
            replied.append(exc)

    with engine.connect() as changer:
        holding = changer.begin()
        target_store.load_targets(changer, for_update=True)  # what a change of the targets does
        pid = changer.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        replier = threading.Thread(target=reply)
        replier.start()
        waiting, deadline = 0, time.monotonic() + 10
        with engine.connect() as watcher:
            while waiting == 0 and time.monotonic() < deadline:
                waiting = watcher.execute(waiting_query, {"pid": pid}).scalar_one()
                watcher.rollback()
                time.sleep(0.02)
        assert replied == []
        holding.commit()
    replier.join(timeout=30)
    assert waiting == 1
    assert len(replied) == 1 and not isinstance(replied[0], Exception), replied
    with engine.connect() as conn:
        assert stored_deadline_rows(conn) == {("High", "2026-03-02 09"): (1, 0, 0)}


# -- migration 0006 --------------------------------------------------------------------------

OLD_TICKETS = sa.table(
    "tickets",
    sa.column("id", sa.Integer),
    sa.column("issue", sa.Text),
    sa.column("status", sa.String),
    sa.column("priority", sa.String),
    sa.column("created_at", UTCDateTime),
    sa.column("updated_at", UTCDateTime),
    sa.column("version", sa.Integer),
    sa.column("first_response_at", UTCDateTime),
    sa.column("closed_at", UTCDateTime),
    sa.column("status_rank", sa.SmallInteger),
    sa.column("priority_rank", sa.SmallInteger),
    sa.column("requester", sa.String),
)
OLD_EVENTS = sa.table(
    "ticket_events",
    sa.column("ticket_id", sa.Integer),
    sa.column("occurred_at", UTCDateTime),
    sa.column("kind", sa.String),
    sa.column("old_value", sa.Text),
    sa.column("new_value", sa.Text),
    sa.column("actor", sa.String),
    sa.column("version", sa.Integer),
)
STATUS_RANK = {"Open": 1, "In Progress": 2, "Closed": 3}
PRIORITY_RANK = {"High": 1, "Medium": 2, "Low": 3}


def mar(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, micro, tzinfo=UTC)


# Targets stored before the migration: High 0.5 h / 2 h, Medium 1.25 h / 1.25 h, Low 0.25 h / 3 h.
OLD_TARGETS: RawTargets = {"High": (0.5, 2.0), "Medium": (1.25, 1.25), "Low": (0.25, 3.0)}
# Per ticket: priority, status now, created, first response, [(status change, at)] in order
# (the last close is closed_at), with the hours and buckets worked out by hand:
#   bucket = 1 + floor(24 ln seconds) for a second or more, else 0.
OLD_HISTORIES: list[tuple[str, datetime, datetime | None, list[tuple[str, datetime]]]] = [
    # T1 High, 09:59:30: answered exactly at its 10:29:30 deadline (1800 s: 24 ln 1800 =
    # 179.89 -> bucket 180, met); closed 2 h + 0.5 ms later (7200.0005 s: 213.16 -> 214, met).
    (
        "High",
        mar(10, 9, 59, 30),
        mar(10, 10, 29, 30),
        [("In Progress", mar(10, 10, 29, 30)), ("Closed", mar(10, 11, 59, 30, 500))],
    ),
    # T2 High, 09:10: answered 0.5 h + 2 ms later (1800.002 s -> 180, missed), closed at 10:00
    # and reopened at 10:30: In Progress, so no resolution.
    (
        "High",
        mar(10, 9, 10),
        mar(10, 9, 40, 0, 2000),
        [
            ("In Progress", mar(10, 9, 40, 0, 2000)),
            ("Closed", mar(10, 10)),
            ("In Progress", mar(10, 10, 30)),
        ],
    ),
    # T3 Medium, 10:00:00: a reply after 0.4 s (bucket 0), closed after 1 s (24 ln 1 = 0 ->
    # bucket 1); both met.
    (
        "Medium",
        mar(10, 10),
        mar(10, 10, 0, 0, 400_000),
        [("Closed", mar(10, 10, 0, 1))],
    ),
    # T4 Medium, 10:59:59.999999: still Open, unanswered.
    ("Medium", mar(10, 10, 59, 59, 999_999), None, []),
    # T5 Low, 23:30: answered exactly at 23:45 (900 s: 163.26 -> 164, met); closed the next
    # day 3 h + 2 ms later (10800.002 s: 222.90 -> 223, missed).
    (
        "Low",
        mar(10, 23, 30),
        mar(10, 23, 45),
        [("In Progress", mar(10, 23, 45)), ("Closed", mar(11, 2, 30, 0, 2000))],
    ),
    # T6 Low, Mar 11 00:00: a reply after 1.042 s (24 ln 1.042 = 0.987 -> bucket 1), closed
    # after 1.043 s (1.010 -> bucket 2); both met.
    (
        "Low",
        mar(11, 0),
        mar(11, 0, 0, 1, 42_000),
        [("Closed", mar(11, 0, 0, 1, 43_000))],
    ),
    # T7 Low, Mar 9 22:00: still Open.
    ("Low", mar(9, 22), None, []),
    # T8 High, Mar 1 12:00: closed straight from Open 216 h later, which also answered it
    # (777600 s: 24 ln 777600 = 325.53 -> bucket 326); both missed.
    ("High", mar(1, 12), mar(10, 12), [("Closed", mar(10, 12))]),
]
EXPECTED_HOURS = [  # (first_response_hours, resolution_hours)
    (0.5, 2 + 0.0005 / 3600),
    (0.5 + 0.002 / 3600, None),
    (0.4 / 3600, 1 / 3600),
    (None, None),
    (0.25, 3 + 0.002 / 3600),
    (1.042 / 3600, 1.043 / 3600),
    (None, None),
    (216.0, 216.0),
]
EXPECTED_BUCKETS = [(180, 214), (180, None), (0, 1), (None, None), (164, 223), (1, 2)]
EXPECTED_BUCKETS += [(None, None), (326, 326)]
EXPECTED_DURATIONS = {
    ("first_response", "2026-03-10", 180): 2,  # T1, T2
    ("first_response", "2026-03-10", 0): 1,  # T3
    ("first_response", "2026-03-10", 164): 1,  # T5
    ("first_response", "2026-03-11", 1): 1,  # T6
    ("first_response", "2026-03-10", 326): 1,  # T8
    ("resolution", "2026-03-10", 214): 1,  # T1
    ("resolution", "2026-03-10", 1): 1,  # T3
    ("resolution", "2026-03-11", 223): 1,  # T5
    ("resolution", "2026-03-11", 2): 1,  # T6
    ("resolution", "2026-03-10", 326): 1,  # T8
}
EXPECTED_DEADLINES = {  # (tickets, first met, resolution met)
    ("High", "2026-03-10 09"): (2, 1, 1),  # T1 met both; T2 missed the first, not closed
    ("High", "2026-03-01 12"): (1, 0, 0),  # T8
    ("Medium", "2026-03-10 10"): (2, 1, 1),  # T3 met both; T4 unanswered
    ("Low", "2026-03-10 23"): (1, 1, 0),  # T5
    ("Low", "2026-03-11 00"): (1, 1, 1),  # T6
    ("Low", "2026-03-09 22"): (1, 0, 0),  # T7
}


def insert_old_ticket(
    conn: Connection,
    level: str,
    created: datetime,
    answered: datetime | None,
    moves: list[tuple[str, datetime]],
) -> int:
    status = moves[-1][0] if moves else "Open"
    closed = moves[-1][1] if status == "Closed" else None
    updated = moves[-1][1] if moves else created
    ticket_id = conn.execute(
        sa.insert(OLD_TICKETS)
        .values(
            issue="printer",
            status=status,
            priority=level,
            created_at=created,
            updated_at=updated,
            version=1 + len(moves),
            first_response_at=answered,
            closed_at=closed,
            status_rank=STATUS_RANK[status],
            priority_rank=PRIORITY_RANK[level],
            requester="Rita Requester",
        )
        .returning(OLD_TICKETS.c.id)
    ).scalar_one()
    events = [{"occurred_at": created, "kind": "created", "old_value": None, "new_value": level}]
    before = "Open"
    for new, at in moves:
        events.append({"occurred_at": at, "kind": "status", "old_value": before, "new_value": new})
        before = new
    conn.execute(
        sa.insert(OLD_EVENTS),
        [
            {**e, "ticket_id": ticket_id, "actor": "Ana Agent", "version": n}
            for n, e in enumerate(events, start=1)
        ],
    )
    return int(ticket_id)


def test_migration_0006_backfills_durations_and_counters(database: str) -> None:
    engine = make_engine(database)
    try:
        migrate(engine, "0005")
        with engine.begin() as conn:
            for level, (first, resolution) in OLD_TARGETS.items():
                conn.execute(
                    sa.text(
                        "UPDATE sla_targets SET first_response_hours = :f, "
                        "resolution_hours = :r WHERE priority = :p"
                    ),
                    {"f": first, "r": resolution, "p": level},
                )
            ids = [insert_old_ticket(conn, *history) for history in OLD_HISTORIES]
        migrate(engine)

        with engine.connect() as conn:
            t = tickets.c
            stored = {
                r.id: r
                for r in conn.execute(
                    select(
                        t.id,
                        t.created_at,
                        t.first_response_at,
                        t.closed_at,
                        t.first_response_hours,
                        t.first_response_bucket,
                        t.resolution_hours,
                        t.resolution_bucket,
                    )
                )
            }
            for ticket_id, hours, buckets in zip(
                ids, EXPECTED_HOURS, EXPECTED_BUCKETS, strict=True
            ):
                row = stored[ticket_id]
                got_hours = (row.first_response_hours, row.resolution_hours)
                assert got_hours == tuple(
                    None if h is None else pytest.approx(h, abs=1e-12) for h in hours
                ), ticket_id
                assert (row.first_response_bucket, row.resolution_bucket) == buckets, ticket_id
                for moment_at, bucket in (
                    (row.first_response_at, row.first_response_bucket),
                    (row.closed_at, row.resolution_bucket),
                ):
                    if moment_at is not None:
                        seconds = (moment_at - row.created_at).total_seconds()
                        assert in_bucket(seconds, bucket), (ticket_id, seconds, bucket)
            migrated = (stored_duration_rows(conn), stored_deadline_rows(conn))
            assert migrated == (EXPECTED_DURATIONS, EXPECTED_DEADLINES)
            targets = as_targets(OLD_TARGETS)
            # Deadlines over the whole range: first met by T1, T3, T5, T6; resolution by
            # T1, T3, T6; all eight due.
            wide = (mar(1, 0), mar(20, 0))
            assert sla_shares.shares(conn, targets, *wide) == ((4, 8), (3, 8))
            # Only T1's first-response deadline (10:29:30, met) is in [10:29:30, 10:29:30.000001).
            edge = (mar(10, 10, 29, 30), mar(10, 10, 29, 30, 1))
            assert sla_shares.shares(conn, targets, *edge) == ((1, 1), (0, 0))
            assert sla_shares.shares(conn, targets, edge[0] - US, edge[0]) == ((0, 0), (0, 0))
            # Resolution deadlines in [10:00, 12:00): T2 11:10 (not closed), T3 11:15 (met),
            # T1 11:59:30 (met); first-response deadlines: T1 10:29:30 (met), T3 11:15 (met).
            assert sla_shares.shares(conn, targets, mar(10, 10), mar(10, 12)) == (
                (2, 2),
                (2, 3),
            )

        with engine.begin() as conn:
            projections.rebuild(conn)
        with engine.connect() as conn:
            assert (stored_duration_rows(conn), stored_deadline_rows(conn)) == migrated

        # Writes after the migration move the backfilled counts: reopening T6 takes its
        # resolution out of both tables.
        agent = account_service.create_account(
            engine, None, "ana.agent@example.com", "Ana Agent", "agent", None, mar(11, 1)
        )
        ticket_service.update_ticket(
            engine, agent, ids[5], TicketChange(status="In Progress"), mar(11, 1)
        )
        with engine.connect() as conn:
            kept = (stored_duration_rows(conn), stored_deadline_rows(conn))
        expected_durations = dict(EXPECTED_DURATIONS)
        del expected_durations[("resolution", "2026-03-11", 2)]
        expected_deadlines = EXPECTED_DEADLINES | {("Low", "2026-03-11 00"): (1, 1, 0)}
        assert kept == (expected_durations, expected_deadlines)
        with engine.begin() as conn:
            projections.rebuild(conn)
        with engine.connect() as conn:
            assert (stored_duration_rows(conn), stored_deadline_rows(conn)) == kept
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("created_from", "created_to", "expected"),
    [
        # Whole hours Mar 2 22:00 .. Mar 4 01:00: a in the hours before the whole day Mar 3
        # (b, c), d in the hour after it; e is past the end. Due a b c d, met a d.
        (mar(2, 22), mar(4, 1), (2, 4)),
        # Partial hours either side of the whole day Mar 3: a (23:30) and d (00:30) from the
        # tickets, b and c from the day's row.
        (mar(2, 23, 15), mar(4, 0, 45), (2, 4)),
        # No whole day: the hours Mar 3 00:00 .. 23:00 hold b alone (c is at 23:30).
        (mar(3, 0), mar(3, 23), (0, 1)),
    ],
)
def test_sla_shares_add_whole_days_and_the_hours_around_them(
    engine: Engine,
    agent: Account,
    created_from: datetime,
    created_to: datetime,
    expected: tuple[int, int],
) -> None:
    # High: the first response is due 4 h after filing. Filed, and answered after:
    # a Mar 2 23:30 (0.5 h: met), b Mar 3 00:30 (5 h: missed), c Mar 3 23:30 (never:
    # missed), d Mar 4 00:30 (0.5 h: met), e Mar 4 01:30 (0.5 h: met).
    filed = [(mar(2, 23, 30), 0.5), (mar(3, 0, 30), 5.0), (mar(3, 23, 30), None)]
    filed += [(mar(4, 0, 30), 0.5), (mar(4, 1, 30), 0.5)]
    for created, answer in filed:
        made = ticket_service.create_ticket(engine, agent, "printer", "High", created)
        if answer is not None:
            at = created + timedelta(hours=answer)
            ticket_service.update_ticket(engine, agent, made.id, TicketChange("In Progress"), at)
    due = timedelta(hours=4)
    with engine.connect() as conn:
        targets = target_store.load_targets(conn)
        first, _ = sla_shares.shares(conn, targets, created_from + due, created_to + due)
    assert first == expected
