"""The dashboard's medians (statistics.median_hours) against Python's statistics.median of the
durations made by hand, whichever way the tickets of the median's bucket are read: the
period's ones sorted, or the whole bucket walked in the order of its hours."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.support.databases import empty_desk
from ticketdesk.domain import durations
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.queries import kpis as figures
from ticketdesk.services import tickets as ticket_service

BASE = datetime(2026, 3, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)

# Per ticket: hours after BASE it was filed, hours to its first response and, if it was then
# closed, hours from that response to the close. Few distinct durations, some a bucket apart
# (10 and 10.05 h share one; 11 and 12 h lie either side of a band's edge), so the middle ranks
# often share a bucket with tickets of other days, inside the period and outside it.
DURATIONS = [0.5, 10.0, 10.05, 10.2, 11.0, 12.0, 30.0]
filed = st.lists(
    st.tuples(
        st.integers(0, 6 * 24),
        st.sampled_from(DURATIONS),
        st.one_of(st.none(), st.sampled_from(DURATIONS)),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The period is Mar 3 .. Mar 4. First responses of 10 h on Mar 2, Mar 3 and Mar 5, and of
# 10.05 h (twice) and 10.2 h on Mar 3: the period's middle two are both 10.05 h, in bucket 251
# (9.68 .. 10.09 h), which a walk in hours order reads with the 10 h ones of Mar 2 and Mar 5.
@example(
    made=[
        (0, 10.0, None),
        (24, 10.0, None),
        (25, 10.05, None),
        (26, 10.05, None),
        (27, 10.2, None),
        (72, 10.0, None),
    ],
    first_day=1,
    days=2,
)
# The period is Mar 3 alone: a 10 h first response at its first moment (Mar 3 00:00) is in
# it, one at the first moment after it (Mar 4 00:00) is not: the median is (10 + 10.05) / 2.
@example(made=[(14, 10.0, None), (24, 10.05, None), (38, 10.0, None)], first_day=1, days=1)
@given(made=filed, first_day=st.integers(0, 7), days=st.integers(1, 4))
def test_medians_match_python_whichever_way_the_bucket_is_read(
    engine: Engine,
    agent: Account,
    made: list[tuple[int, float, float | None]],
    first_day: int,
    days: int,
) -> None:
    empty_desk(engine)
    ended: dict[str, list[tuple[datetime, float]]] = {
        durations.FIRST_RESPONSE: [],
        durations.RESOLUTION: [],
    }
    for filed_hours, answer, close in made:
        created = BASE + filed_hours * HOUR
        ticket = ticket_service.create_ticket(engine, agent, "printer", "Low", created)
        answered = created + answer * HOUR
        ticket_service.update_ticket(
            engine, agent, ticket.id, TicketChange("In Progress"), answered
        )
        ended[durations.FIRST_RESPONSE].append((answered, answer))
        if close is not None:
            closed = answered + close * HOUR
            ticket_service.update_ticket(engine, agent, ticket.id, TicketChange("Closed"), closed)
            ended[durations.RESOLUTION].append((closed, answer + close))
    first = (BASE + timedelta(days=first_day)).date()
    last = first + timedelta(days=days - 1)
    with engine.connect() as conn, pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures, "SORT_MAX", 0)  # let the counts choose even for a few tickets
        for measure, spans in ended.items():
            in_period = [hours for moment, hours in spans if first <= moment.date() <= last]
            expected = statistics.median(in_period) if in_period else None
            for walk in (True, False, None):
                got = figures.median_hours(conn, measure, first, last, in_hours_order=walk)
                if expected is None:
                    assert got is None
                else:
                    assert got == pytest.approx(expected, abs=1e-6), (measure, walk)


@pytest.mark.parametrize(
    ("end_rank", "in_period", "in_bucket", "walk"),
    [
        # 90 days of a 180-day desk at 1M: walk about 3,322 * 13,087 / 6,643 = 6,545 entries
        # against sorting 6,643 (4 * 6,643^2 = 176.5M > 3,322 * 13,087 = 43.5M).
        (3322, 6643, 13087, True),
        # 30 days: 1,072 * 13,087 = 14.0M < 4 * 2,142^2 = 18.4M.
        (1072, 2142, 13087, True),
        # 7 days: 279 * 13,087 = 3.65M > 4 * 556^2 = 1.24M: sort the 556.
        (279, 556, 13087, False),
        # The whole bucket in the period: walking never reads more than sorting would.
        (500, 500, 500, True),
    ],
)
def test_the_bucket_is_walked_when_the_period_holds_much_of_it(
    end_rank: int, in_period: int, in_bucket: int, walk: bool
) -> None:
    assert figures.walk_in_hours_order(end_rank, in_period, in_bucket) is walk
