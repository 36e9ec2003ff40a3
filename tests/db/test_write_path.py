"""The one write path: whichever entry point changes the desk (a new ticket, an agent's change,
a reply, a note, a requester's message, the bulk demo load), every derived table ends equal
to two independent counts: one made here by hand from the ticket rows and the event log, and
the projections' own full rebuild. And only store.tickets reaches the projections' writers."""

from __future__ import annotations

import ast
import math
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select

from tests.support.databases import empty_desk
from tests.support.histories import counter_rows
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.sla import DEFAULT_TARGETS
from ticketdesk.domain.tickets import PRIORITIES, STATUSES, Priority, TicketChange
from ticketdesk.services import demo as demo_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import projections
from ticketdesk.store.schema import ticket_events, tickets

START = datetime(2026, 3, 1, 9, tzinfo=UTC)
SRC = Path(__file__).resolve().parents[2] / "src" / "ticketdesk"

# One step: (entry point, which ticket, minutes later, a value for it).
steps = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.just(0), st.integers(1, 900), st.sampled_from(PRIORITIES)),
        st.tuples(
            st.just("status"), st.integers(0, 9), st.integers(1, 900), st.sampled_from(STATUSES)
        ),
        st.tuples(
            st.just("priority"), st.integers(0, 9), st.integers(1, 900), st.sampled_from(PRIORITIES)
        ),
        st.tuples(
            st.just("assignee"),
            st.integers(0, 9),
            st.integers(1, 900),
            st.sampled_from(["Ana Agent", "Ada Admin", None]),
        ),
        st.tuples(
            st.just("message"),
            st.integers(0, 9),
            st.integers(1, 900),
            st.sampled_from(["reply", "note", "message"]),
        ),
        st.tuples(st.just("bulk"), st.just(0), st.integers(1, 900), st.integers(1, 12)),
    ),
    min_size=1,
    max_size=30,
)


def day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def bucket(seconds: float) -> int:
    """Bucket b >= 1 holds [e^((b-1)/24), e^(b/24)) seconds; bucket 0 everything under 1 s
    (the definition of docs/kpis.md, found here by walking up, not by a logarithm)."""
    if seconds < 1:
        return 0
    b = 1
    while seconds >= math.exp(b / 24) * (1 + 1e-12):
        b += 1
    return b


def counts_by_hand(conn: Connection) -> tuple[dict[Any, Any], ...]:
    """Every derived table as the definitions say it must read, from rows and events alone,
    in counter_rows' shape."""
    rows = [r._mapping for r in conn.execute(select(tickets))]
    events = [r._mapping for r in conn.execute(select(ticket_events))]
    counts: Counter[Any] = Counter()
    assignees: Counter[Any] = Counter()
    activity: dict[tuple[str, str], float] = defaultdict(float)
    durations: Counter[Any] = Counter()
    deadlines: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in rows:
        created = r["created_at"]
        counts[(day(created), r["status"], r["priority"])] += 1
        assignees[(r["assignee"] or "", r["status"])] += 1
        activity[(day(created), "created")] += 1
        target = DEFAULT_TARGETS[Priority(r["priority"])]
        standing = deadlines[(r["priority"], created.astimezone(UTC).strftime("%Y-%m-%d %H"))]
        standing[0] += 1
        for moment, measure, limit in (
            (r["first_response_at"], "first_response", target.first_response_hours),
            (r["closed_at"], "resolution", target.resolution_hours),
        ):
            if moment is None:
                continue
            seconds = (moment - created).total_seconds()
            activity[(day(moment), f"{measure}s")] += 1
            activity[(day(moment), f"{measure}_hours")] += seconds / 3600
            durations[(measure, day(moment), bucket(seconds))] += 1
            met = moment <= created + timedelta(hours=limit, milliseconds=1)
            standing[1 if measure == "first_response" else 2] += met
    for e in events:
        if e["kind"] == "status" and e["new_value"] == "Closed":
            activity[(day(e["occurred_at"]), "closes")] += 1
        if e["kind"] == "status" and e["old_value"] == "Closed":
            activity[(day(e["occurred_at"]), "reopens")] += 1
    bands: Counter[Any] = Counter()
    for (measure, d, b), n in durations.items():
        bands[(measure, d, b // 8)] += n
    deadline_days: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (priority, hour), amounts in deadlines.items():
        for i, n in enumerate(amounts):
            deadline_days[(priority, hour[:10])][i] += n
    return (
        dict(counts),
        {k: pytest.approx(v, abs=1e-6) for k, v in activity.items() if abs(v) > 1e-9},
        dict(durations),
        dict(bands),
        {k: tuple(v) for k, v in deadlines.items()},
        dict(assignees),
        {k: tuple(v) for k, v in deadline_days.items()},
    )


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_every_entry_point_keeps_every_derived_table_equal_to_a_count_by_hand(
    engine: Engine,
    requester: Account,
    agent: Account,
    admin: Account,
    plan: list[tuple[str, int, int, Any]],
) -> None:
    empty_desk(engine)
    now = START
    ids = [ticket_service.create_ticket(engine, requester, "first", "Medium", now).id]
    for entry, which, minutes, value in plan:
        now += timedelta(minutes=minutes)
        ticket_id = ids[which % len(ids)]
        if entry == "create":
            ids.append(ticket_service.create_ticket(engine, requester, "more", value, now).id)
        elif entry == "status":
            ticket_service.update_ticket(engine, agent, ticket_id, TicketChange(status=value), now)
        elif entry == "priority":
            change = TicketChange(priority=value)
            ticket_service.update_ticket(engine, admin, ticket_id, change, now)
        elif entry == "assignee":
            change = TicketChange(assignee=value, unassign=value is None)
            ticket_service.update_ticket(engine, agent, ticket_id, change, now)
        elif entry == "message":
            author = requester if value == "message" else agent
            ticket_service.add_message(engine, author, ticket_id, value, "hello", now)
        else:  # a bulk load of demo tickets, histories up to `now`
            demo_service.seed_demo(engine, value, now, seed=which + minutes, span_days=3)
    with engine.connect() as conn:
        kept = counter_rows(conn)
        by_hand = counts_by_hand(conn)
    assert kept == by_hand
    with engine.begin() as conn:
        projections.rebuild(conn)
    with engine.connect() as conn:
        assert counter_rows(conn) == kept


def test_the_bulk_load_counts_exactly_what_its_tickets_hold(engine: Engine) -> None:
    """A larger demo load alone (its batches' deltas added up), against the count by hand."""
    empty_desk(engine)
    demo_service.seed_demo(engine, 700, START + timedelta(days=90), seed=3, span_days=60)
    with engine.connect() as conn:
        assert counter_rows(conn) == counts_by_hand(conn)


DERIVED_WRITERS = {"counts", "deadlines", "upsert", "revision", "delta"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_only_the_store_reaches_the_projections_writers() -> None:
    """Outside store/ only the pure Delta may be imported from the projections (the bulk load
    computes with it); the calls that write derived tables are made by store.tickets.save and
    save_bulk (and store.settings for a change of the targets)."""
    offenders = []
    for path in SRC.rglob("*.py"):
        inside = path.is_relative_to(SRC / "store") or path.is_relative_to(SRC / "migrations")
        if inside:
            continue
        for name in _imports(path):
            parts = name.split(".")
            projection = parts[:3] == ["ticketdesk", "store", "projections"] and len(parts) > 3
            if projection and parts[3] in DERIVED_WRITERS - {"delta"}:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert offenders == []
    callers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "projections.apply(" in path.read_text() or "projections.write(" in path.read_text()
    )
    assert callers == ["store/tickets.py"]


def test_a_bulk_load_after_live_edits_still_counts_exactly(
    engine: Engine, requester: Account, agent: Account
) -> None:
    """Bulk batches add to counters that live saves already moved (and the reverse)."""
    empty_desk(engine)
    rng = random.Random(5)
    now = START
    made = [ticket_service.create_ticket(engine, requester, "a", "High", now).id for _ in range(3)]
    for ticket_id in made:
        now += timedelta(hours=rng.randint(1, 30))
        ticket_service.update_ticket(engine, agent, ticket_id, TicketChange(status="Closed"), now)
    demo_service.seed_demo(engine, 40, now, seed=9, span_days=5)
    now += timedelta(hours=2)
    ticket_service.update_ticket(engine, agent, made[0], TicketChange(status="Open"), now)
    with engine.connect() as conn:
        assert counter_rows(conn) == counts_by_hand(conn)


def test_a_reopen_is_any_move_out_of_closed(
    engine: Engine, requester: Account, agent: Account
) -> None:
    """Closed -> In Progress is a reopen as much as Closed -> Open (docs/kpis.md)."""
    empty_desk(engine)
    made = [ticket_service.create_ticket(engine, requester, "a", "Low", START).id for _ in "ab"]
    later = START + timedelta(hours=1)
    for ticket_id, back_to in zip(made, ("In Progress", "Open"), strict=True):
        ticket_service.update_ticket(engine, agent, ticket_id, TicketChange(status="Closed"), later)
        change = TicketChange(status=back_to)
        ticket_service.update_ticket(engine, agent, ticket_id, change, later + timedelta(hours=1))
    with engine.connect() as conn:
        activity = counter_rows(conn)[1]
    assert activity[(day(START), "closes")] == 2
    assert activity[(day(START), "reopens")] == 2
