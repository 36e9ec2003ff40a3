"""Dashboard numbers on hand-built histories; every expected value is worked out by hand in the
comments, from the definitions of docs/kpis.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.queries.kpis import Mean, Share, SlaAchievement
from ticketdesk.queries.late_tickets import AssigneeLoad
from ticketdesk.services import accounts as account_service
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# A period is whole UTC days ending today: the last 30 days are Oct 29 .. Nov 27 (from Oct 29
# 00:00), the 30 before them Sep 29 .. Oct 28.


def mean(hours: float | None, count: int) -> Mean:
    """Expected Mean, to float rounding of sums of hours."""
    return Mean(None if hours is None else pytest.approx(hours, abs=1e-6), count)  # type: ignore[arg-type]


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def ticket(
    engine: Engine, by: Account, created: datetime, priority: str, *moves: tuple[datetime, str]
) -> int:
    """A ticket filed and then moved through `moves` by the agent `by`."""
    made = ticket_service.create_ticket(engine, by, f"filed {created:%b %d}", priority, created)
    for moment, status in moves:
        ticket_service.update_ticket(engine, by, made.id, TicketChange(status=status), moment)
    return made.id


def make_agent(engine: Engine, name: str) -> Account:
    email = name.lower().replace(" ", ".") + "@example.com"
    return account_service.create_account(engine, None, email, name, "agent", None, NOW)


@pytest.fixture
def desk(engine: Engine, agent: Account) -> Engine:
    # A: answered after 2 h, closed after 24 h, all in the current period.
    ticket(
        engine, agent, at(11, 20), "High", (at(11, 20, 14), "In Progress"), (at(11, 21), "Closed")
    )
    # B: never answered, still Open.
    ticket(engine, agent, at(11, 25), "Low")
    # C: answered after 12 h and closed after 48 h in the previous period, then reopened on
    #    Nov 1 and closed again on Nov 2: its resolution is now Oct 1 -> Nov 2 = 32 days = 768 h.
    ticket(
        engine,
        agent,
        at(10, 1),
        "Medium",
        (at(10, 2, 0), "In Progress"),
        (at(10, 3), "Closed"),
        (at(11, 1), "Open"),
        (at(11, 2), "Closed"),
    )
    # D: answered after 6 h, closed after 5 days = 120 h, both in the previous period.
    ticket(
        engine, agent, at(9, 30), "Medium", (at(9, 30, 18), "In Progress"), (at(10, 5), "Closed")
    )
    # E: answered after 4 h, still In Progress.
    ticket(engine, agent, at(11, 26), "High", (at(11, 26, 16), "In Progress"))
    return engine


def test_kpis_over_the_last_30_days(desk: Engine, agent: Account) -> None:
    data = dashboard_service.dashboard(desk, agent, NOW, period_days=30)
    # Open now: B (Open) and E (In Progress).
    assert data.open_now == 2
    # On Oct 29 00:00 only C and D existed, and both were Closed then.
    assert data.open_at_period_start == 0
    assert data.created == 3  # A, B, E
    # First responses in the period: A 2 h, E 4 h; before: C 12 h, D 6 h.
    assert data.first_response == mean(3.0, 2)
    assert data.first_response_previous == mean(9.0, 2)
    # Latest closes in the period: A 24 h, C 768 h; before: D 120 h (C's first close no
    # longer counts: it was reopened).
    assert data.resolution == mean(396.0, 2)
    assert data.resolution_previous == mean(120.0, 1)


def test_charts_count_tickets_by_month_submitted_and_priority(desk: Engine, agent: Account) -> None:
    data = dashboard_service.dashboard(desk, agent, NOW)
    assert data.status_per_month == [
        ("2026-09", "Closed", 1),  # D
        ("2026-10", "Closed", 1),  # C
        ("2026-11", "Closed", 1),  # A
        ("2026-11", "In Progress", 1),  # E
        ("2026-11", "Open", 1),  # B
    ]
    assert data.priority_counts == [("High", 2), ("Low", 1), ("Medium", 2)]


def test_a_seven_day_period(desk: Engine, agent: Account) -> None:
    # Current = Nov 21 .. Nov 27: E answered on Nov 26 (4 h). A was answered on Nov 20 at
    # 14:00 (2 h): that is the previous period, Nov 14 .. Nov 20.
    data = dashboard_service.dashboard(desk, agent, NOW, period_days=7)
    assert data.first_response == mean(4.0, 1)
    assert data.first_response_previous == mean(2.0, 1)
    # A closed on Nov 21 12:00 after 24 h; nothing closed Nov 14 .. 20.
    assert data.resolution == mean(24.0, 1)
    assert data.resolution_previous == mean(None, 0)
    # Open on Nov 21 00:00: A (In Progress until its close at noon). B and E came later.
    assert data.open_at_period_start == 1


def test_empty_desk(engine: Engine, agent: Account) -> None:
    data = dashboard_service.dashboard(engine, agent, NOW)
    assert (data.open_now, data.open_at_period_start) == (0, 0)
    assert data.first_response == mean(None, 0)
    assert data.resolution == mean(None, 0)
    assert (data.status_per_month, data.priority_counts) == ([], [])


def test_tickets_answered_at_the_period_boundary(engine: Engine, agent: Account) -> None:
    start = datetime(2026, 10, 29, tzinfo=UTC)  # 00:00 of the first of the last 30 days
    ticket(engine, agent, start - timedelta(hours=5), "Low", (start, "In Progress"))
    before = start - timedelta(microseconds=1)
    ticket(engine, agent, before - timedelta(hours=2), "Low", (before, "In Progress"))
    data = dashboard_service.dashboard(engine, agent, NOW)
    # Answered at 00:00 of the first day: inside. One microsecond earlier: the period before.
    assert data.first_response == mean(5.0, 1)
    assert data.first_response_previous == mean(2.0, 1)


def test_months_are_utc_months(engine: Engine, agent: Account) -> None:
    ticket(engine, agent, datetime(2026, 10, 31, 23, 30, tzinfo=UTC), "Low")
    ticket(engine, agent, datetime(2026, 11, 1, 0, 30, tzinfo=UTC), "Low")
    assert dashboard_service.dashboard(engine, agent, NOW).status_per_month == [
        ("2026-10", "Open", 1),
        ("2026-11", "Open", 1),
    ]


# --- Medians, SLA achievement, reopen rate, breached tickets, open tickets by assignee -------
# Default SLA targets (hours, first response / resolution): High 4 / 24, Medium 8 / 72,
# Low 24 / 168. Deadlines of the `desk` tickets (creation + target of the current priority):
#   A High   filed Nov 20 12:00: answer due Nov 20 16:00 (answered 14:00: met),
#            close due Nov 21 12:00 (closed Nov 21 12:00, exactly at the deadline: met)
#   B Low    filed Nov 25 12:00: answer due Nov 26 12:00 (never answered: 24 h late at NOW),
#            close due Dec 02 12:00 (still ahead)
#   C Medium filed Oct 01 12:00: answer due Oct 01 20:00 (answered Oct 2 00:00: 4 h late),
#            close due Oct 04 12:00 (latest close Nov 2 12:00: 696 h = 29 d late)
#   D Medium filed Sep 30 12:00: answer due Sep 30 20:00 (answered 18:00: met),
#            close due Oct 03 12:00 (closed Oct 5 12:00: 48 h late)
#   E High   filed Nov 26 12:00: answer due Nov 26 16:00 (answered 16:00 exactly: met),
#            close due Nov 27 12:00 = NOW (not passed yet: undecided, not counted)


def test_medians_over_the_last_30_days(desk: Engine, agent: Account) -> None:
    data = dashboard_service.dashboard(desk, agent, NOW, period_days=30)
    # Even counts: the mean of the two middle values. First responses A 2 h, E 4 h -> 3.0;
    # before: D 6 h, C 12 h -> 9.0.
    assert data.current.first_response_median == pytest.approx(3.0, abs=1e-6)
    assert data.previous.first_response_median == pytest.approx(9.0, abs=1e-6)
    # Latest closes in the period: A 24 h, C 768 h (reopened, closed again) -> 396.0; before:
    # D 120 h alone (one ticket: its own value).
    assert data.current.resolution_median == pytest.approx(396.0, abs=1e-6)
    assert data.previous.resolution_median == pytest.approx(120.0, abs=1e-6)


def test_a_period_with_one_ticket_and_an_empty_one(desk: Engine, agent: Account) -> None:
    # Nov 21 .. 27: first responses E 4 h; closes A 24 h. Nov 14 .. 20: no close at all.
    data = dashboard_service.dashboard(desk, agent, NOW, period_days=7)
    assert data.current.first_response_median == pytest.approx(4.0, abs=1e-6)
    assert data.current.resolution_median == pytest.approx(24.0, abs=1e-6)
    assert data.previous.resolution_median is None
    # Closes Nov 21 .. 27: A; reopens none -> 0 %. Nov 14 .. 20: no close -> no rate.
    assert (data.current.closes, data.current.reopens) == (1, 0)
    assert data.current.reopen_rate == 0.0
    assert data.previous.reopen_rate is None
    # Deadlines Nov 21 00:00 .. NOW: answers B (missed) and E (met at the deadline); closes
    # A (Nov 21 12:00, met at the deadline). E's close deadline is NOW itself: not counted.
    assert data.current.sla == SlaAchievement(Share(1, 2), Share(1, 1))
    # Nov 14 .. 20: A's answer deadline (met); no close deadline.
    assert data.previous.sla == SlaAchievement(Share(1, 1), Share(0, 0))
    assert data.previous.sla.resolution.percent is None


def test_sla_achievement_and_reopen_rate_over_30_days(desk: Engine, agent: Account) -> None:
    data = dashboard_service.dashboard(desk, agent, NOW, period_days=30)
    # Oct 29 .. NOW: answer deadlines A (met), B (missed), E (met) -> 2 of 3;
    # close deadlines A (met) -> 1 of 1 (B's and E's are not passed).
    assert data.current.sla == SlaAchievement(Share(2, 3), Share(1, 1))
    assert data.current.sla.first_response.percent == pytest.approx(200 / 3)
    # Sep 29 .. Oct 28: answers C (late), D (met) -> 1 of 2; closes C (its latest close is
    # what counts: late) and D (late) -> 0 of 2.
    assert data.previous.sla == SlaAchievement(Share(1, 2), Share(0, 2))
    # Closes in the period: C Nov 2, A Nov 21; reopens: C Nov 1 -> 1 per 2 closes = 50 %.
    # Before: closes C Oct 3, D Oct 5, no reopen -> 0 %.
    assert data.current.reopen_rate == 50.0
    assert data.previous.reopen_rate == 0.0


def test_breached_tickets_now_and_in_a_past_period(desk: Engine, agent: Account) -> None:
    ids = dict(zip("ABCDE", range(1, 6), strict=True))  # created in this order: IDs 1..5
    data = dashboard_service.dashboard(desk, agent, NOW, period_days=30)
    # Open now and past a deadline: B only (unanswered, 24 h past). No deadline of the period
    # was met late. E is exactly at its close deadline: not past it.
    assert [(b.ticket_id, b.late_by) for b in data.breaches] == [(ids["B"], timedelta(hours=24))]
    b = data.breaches[0]
    assert (b.code, b.state.first_response.label, b.state.resolution.label) == (
        "TICKET-2",
        "breached 24 h ago",
        "5 d left",  # due Dec 2 12:00
    )
    assert data.open_past_target == 1
    # Sep 29 .. Oct 28: C (close 696 h late) and D (close 48 h late) met their deadlines late;
    # B is listed whatever the period (open and past its deadline now). Most overdue first.
    past = dashboard_service.dashboard(
        desk, agent, NOW, period=dashboard_service.Period(date(2026, 9, 29), date(2026, 10, 28))
    )
    assert [(x.ticket_id, x.late_by) for x in past.breaches] == [
        (ids["C"], timedelta(hours=696)),
        (ids["D"], timedelta(hours=48)),
        (ids["B"], timedelta(hours=24)),
    ]
    c = past.breaches[0].state
    assert (c.first_response.label, c.resolution.label) == ("missed by 4 h", "missed by 29 d")


def test_open_tickets_by_assignee_counts_the_unassigned(engine: Engine, agent: Account) -> None:
    # Ana: one open, one closed (not counted); Ben: one open 30 h old and unanswered High
    # (past its 4 h answer deadline); one open unassigned Low filed 1 h ago (within targets).
    make_agent(engine, "Ana")
    make_agent(engine, "Ben")

    def assign(ticket_id: int, name: str, at: datetime) -> None:
        ticket_service.update_ticket(engine, agent, ticket_id, TicketChange(assignee=name), at)

    ana = ticket(engine, agent, NOW - timedelta(hours=5), "Low")
    assign(ana, "Ana", NOW - timedelta(hours=4))
    gone = ticket(
        engine, agent, NOW - timedelta(hours=5), "Low", (NOW - timedelta(hours=2), "Closed")
    )
    assign(gone, "Ana", NOW - timedelta(hours=1))
    ben = ticket(engine, agent, NOW - timedelta(hours=30), "High")
    assign(ben, "Ben", NOW - timedelta(hours=2))
    ticket(engine, agent, NOW - timedelta(hours=1), "Low")
    data = dashboard_service.dashboard(engine, agent, NOW)
    # Equal counts: by name, the unassigned (None) last.
    assert data.by_assignee == [
        AssigneeLoad("Ana", 1, 0),
        AssigneeLoad("Ben", 1, 1),
        AssigneeLoad(None, 1, 0),
    ]
    assert data.open_past_target == 1


def test_a_ticket_is_past_its_target_only_once_older_than_it(
    engine: Engine, agent: Account
) -> None:
    # Default targets: High answered within 4 h, resolved within 24 h. Unanswered High
    # tickets exactly 4 h old and 4 h + 1 us old; answered ones exactly 24 h old and
    # 24 h + 1 us old (answered an hour after filing): one of each pair is past its target.
    us = timedelta(microseconds=1)
    ticket(engine, agent, NOW - timedelta(hours=4), "High")
    ticket(engine, agent, NOW - timedelta(hours=4) - us, "High")
    for age in (timedelta(hours=24), timedelta(hours=24) + us):
        answered = NOW - age + timedelta(hours=1)
        made = ticket(engine, agent, NOW - age, "High", (answered, "In Progress"))
        ticket_service.update_ticket(engine, agent, made, TicketChange(assignee="Ana Agent"), NOW)
    data = dashboard_service.dashboard(engine, agent, NOW)
    assert data.by_assignee == [AssigneeLoad("Ana Agent", 2, 1), AssigneeLoad(None, 2, 1)]
    assert data.open_past_target == 2


def test_median_of_an_odd_count_and_a_reply_as_first_response(
    engine: Engine, agent: Account
) -> None:
    # First responses on Nov 27: 1 h (a public reply), 2 h and 10 h (status changes):
    # median 2 h, mean 13 / 3 h.
    one = ticket(engine, agent, NOW - timedelta(hours=3), "Low")
    ticket_service.add_message(engine, agent, one, "reply", "On it", NOW - timedelta(hours=2))
    ticket(
        engine, agent, NOW - timedelta(hours=4), "Low", (NOW - timedelta(hours=2), "In Progress")
    )
    ticket(engine, agent, NOW - timedelta(hours=11), "Low", (NOW - timedelta(hours=1), "Closed"))
    data = dashboard_service.dashboard(engine, agent, NOW, period_days=1)
    assert data.current.first_response_median == pytest.approx(2.0, abs=1e-6)
    assert data.first_response == mean(13 / 3, 3)


@pytest.mark.parametrize(
    ("hours", "median"),
    [
        # 10 h and 10.05 h share a duration bucket (4.3 % wide): the middle two, (10 + 10.05) / 2.
        ((1.0, 10.0, 10.05, 30.0), 10.025),
        # 11 h and 12 h lie either side of a band's edge (bucket 256 starts at e^(255/24) s,
        # 11.43 h): (11 + 12) / 2.
        ((11.0, 12.0), 11.5),
    ],
)
def test_median_of_an_even_count_whose_middle_two_are_close(
    engine: Engine, agent: Account, hours: tuple[float, ...], median: float
) -> None:
    for taken in hours:
        ticket(engine, agent, NOW - timedelta(hours=taken), "Low", (NOW, "In Progress"))
    data = dashboard_service.dashboard(engine, agent, NOW, period_days=1)
    assert data.current.first_response_median == pytest.approx(median, abs=1e-6)


def test_an_empty_desk_has_no_figures(engine: Engine, agent: Account) -> None:
    data = dashboard_service.dashboard(engine, agent, NOW, period_days=7)
    for figures in (data.current, data.previous):
        assert (figures.first_response_median, figures.resolution_median) == (None, None)
        assert figures.reopen_rate is None
        assert figures.sla == SlaAchievement(Share(0, 0), Share(0, 0))
    assert (data.breaches, data.by_assignee, data.open_past_target) == ([], [], 0)


def test_a_custom_period_in_the_past(desk: Engine, agent: Account) -> None:
    period = dashboard_service.custom_period(NOW, date(2026, 10, 1), date(2026, 10, 31))
    assert (period.days, period.previous()) == (
        31,
        dashboard_service.Period(date(2026, 8, 31), date(2026, 9, 30)),
    )
    data = dashboard_service.dashboard(desk, agent, NOW, period=period)
    # Oct 1 00:00: only D existed (Open). Oct 31 24:00: C and D existed, both Closed then.
    assert (data.open_at_period_start, data.open_at_period_end) == (1, 0)
    assert data.created == 1  # C
    # First responses in October: C 12 h; latest closes in October: none (C's Oct 3 close was
    # undone by its reopen; D's Oct 5 close counts: 120 h).
    assert data.current.first_response_median == pytest.approx(12.0, abs=1e-6)
    assert data.current.resolution_median == pytest.approx(120.0, abs=1e-6)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (date(2026, 11, 20), date(2026, 11, 19), "starts after it ends"),
        (date(2026, 11, 20), date(2026, 11, 28), "cannot end after today"),
        (date(2025, 1, 1), date(2026, 11, 27), "at most 366 days"),
    ],
)
def test_a_custom_period_is_checked(first: date, last: date, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        dashboard_service.custom_period(NOW, first, last)
