"""The dashboard's most overdue open tickets (late_tickets.overdue_open) against a list made by
hand from the SLA definition in sla.py: an Open or In Progress ticket is past its first-response
deadline (creation + the priority's target) while unanswered, past its resolution deadline
while answered and not Closed; overdue by `now` minus that deadline, the most first, ties by
id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from tests.support.databases import empty_desk
from ticketdesk.domain import sla
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import PRIORITIES, Priority, TicketChange
from ticketdesk.queries import late_tickets
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import targets as target_store
from ticketdesk.store.schema import tickets

BASE = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)

# Per ticket: priority, hours after BASE it was filed, hours to its first response (None:
# unanswered) and whether it was then closed. Whole hours, so many tickets are equally late.
filed = st.lists(
    st.tuples(
        st.sampled_from(PRIORITIES),
        st.integers(0, 10 * 24),
        st.sampled_from([1, 5, 30, None]),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)


def overdue_by_hand(
    rows: list[dict[str, Any]], targets: sla.Targets, now: datetime, limit: int
) -> list[int]:
    late: dict[int, timedelta] = {}
    for r in rows:
        if r["closed_at"] is not None:
            continue
        target = targets[Priority(r["priority"])]
        unanswered = r["first_response_at"] is None
        hours = target.first_response_hours if unanswered else target.resolution_hours
        overdue = now - (r["created_at"] + hours * HOUR)
        if overdue > timedelta(0):
            late[r["id"]] = overdue
    return sorted(late, key=lambda i: (-late[i], i))[:limit]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# At its deadline a ticket is not past it yet: High's first response is due 4 h after filing.
@example(made=[("High", 0, None, False), ("High", 1, None, False)], now_hours=4, limit=50)
@given(
    made=filed,
    now_hours=st.integers(0, 12 * 24),
    limit=st.sampled_from([1, 2, 3, 50]),
)
def test_the_most_overdue_open_tickets_match_a_list_by_hand(
    engine: Engine,
    agent: Account,
    made: list[tuple[str, int, int | None, bool]],
    now_hours: int,
    limit: int,
) -> None:
    empty_desk(engine)
    for priority, hours, answer, close in made:
        created = BASE + hours * HOUR
        ticket = ticket_service.create_ticket(engine, agent, "printer", priority, created)
        if answer is not None:
            at = created + answer * HOUR
            ticket_service.update_ticket(engine, agent, ticket.id, TicketChange("In Progress"), at)
            if close:
                ticket_service.update_ticket(engine, agent, ticket.id, TicketChange("Closed"), at)
    now = BASE + now_hours * HOUR
    with engine.connect() as conn:
        targets = target_store.load_targets(conn)
        rows = [dict(r._mapping) for r in conn.execute(select(tickets))]
        got = late_tickets.overdue_open(conn, targets, now, limit)
    assert [r.id for r in got] == overdue_by_hand(rows, targets, now, limit)
