"""The server-side table: keyset pagination, filters, search and export, on real databases."""

from __future__ import annotations

import itertools
import random
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete, event

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.demo_histories import ISSUES
from ticketdesk.domain.tickets import (
    PRIORITIES,
    PRIORITY_RANK,
    STATUS_RANK,
    STATUSES,
    Ticket,
    TicketChange,
)
from ticketdesk.queries import ticket_table
from ticketdesk.queries.ticket_table import SearchPlan, Sort, SortColumn, TicketFilter
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import db, projections
from ticketdesk.store.schema import daily_activity, ticket_counts, ticket_events, tickets

START = datetime(2026, 3, 1, tzinfo=UTC)


def make_desk(engine: Engine, by: Account, n: int, seed: int) -> list[Ticket]:
    """`n` tickets with many equal statuses, priorities, issues and submission times, filed
    and worked by the agent `by`."""
    rng = random.Random(seed)
    with engine.begin() as conn:
        for table in (ticket_events, tickets, ticket_counts, daily_activity):
            conn.execute(delete(table))
    made = []
    for _ in range(n):
        created = START + timedelta(hours=rng.choice([0, 0, 5, 30, 30, 72]))
        issue, priority = rng.choice(ISSUES[:4]), rng.choice(PRIORITIES)
        t = ticket_service.create_ticket(engine, by, issue, priority, created)
        status = rng.choice(STATUSES)
        if status != "Open":
            t = ticket_service.update_ticket(engine, by, t.id, TicketChange(status=status), created)
        made.append(t)
    return made


def found_by(search: str, issue: str) -> bool:
    """The search's definition: every word of it begins a word of the issue, in any case."""
    words = re.findall(r"\w+", issue.lower())
    return all(any(w.startswith(term) for w in words) for term in search.lower().split())


def expected_order(all_tickets: list[Ticket], sort: Sort) -> list[int]:
    keys = {
        SortColumn.ID: lambda t: (t.id,),
        SortColumn.STATUS: lambda t: (STATUS_RANK[t.status], t.id),
        SortColumn.PRIORITY: lambda t: (PRIORITY_RANK[t.priority], t.id),
        SortColumn.SUBMITTED: lambda t: (t.created_at, t.id),
    }
    ordered = sorted(all_tickets, key=keys[sort.column], reverse=sort.descending)
    return [t.id for t in ordered]


def walk(
    engine: Engine, by: Account, flt: TicketFilter, sort: Sort, size: int, backwards: bool
) -> list[int]:
    """Every page in turn, each reached from the anchor of the one before, as the UI does."""
    first = ticket_service.ticket_page(engine, by, flt, sort, page=1, size=size)
    pages = range(first.pages, 0, -1) if backwards else range(1, first.pages + 1)
    seen: dict[int, list[int]] = {}
    anchor = None
    for number in pages:
        page = ticket_service.ticket_page(
            engine, by, flt, sort, page=number, anchor=anchor, size=size
        )
        assert page.page == number
        seen[number] = [t.id for t in page.tickets]
        anchor = page.anchor
    return [i for number in sorted(seen) for i in seen[number]]


sorts = st.builds(
    Sort, st.sampled_from([c for c in SortColumn if c != SortColumn.ISSUE]), st.booleans()
)
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
# SQLite reads a search sorted by ID in the search index's order: always walk it both ways.
@example(seed=1, n=25, size=4, sort=Sort(SortColumn.ID, True), statuses=set(), search="printer")
@example(seed=2, n=30, size=3, sort=Sort(SortColumn.ID, False), statuses=set(), search="s")
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 40),
    size=st.integers(1, 9),
    sort=sorts,
    statuses=st.sets(st.sampled_from(STATUSES)),
    # None; one of the four issues; words starting with "s" in two of them ("Software ...
    # startup", "Email server ..."); a search with a word no issue has.
    search=st.sampled_from(["", "printer", "s", "print zebra"]),
)
def test_pages_neither_skip_nor_repeat_a_row(
    engine: Engine,
    agent: Account,
    seed: int,
    n: int,
    size: int,
    sort: Sort,
    statuses: set[str],
    search: str,
) -> None:
    made = make_desk(engine, agent, n, seed)
    current = {t.id: t for t in ticket_service.list_tickets(engine, agent)}
    flt = TicketFilter(statuses=tuple(sorted(statuses)), search=search)
    matching = [
        t
        for t in current.values()
        if (not statuses or t.status in statuses) and found_by(search, t.issue)
    ]
    expected = expected_order(matching, sort)
    assert len(made) == n
    assert walk(engine, agent, flt, sort, size, backwards=False) == expected
    assert walk(engine, agent, flt, sort, size, backwards=True) == expected
    # A page jumped to directly (from the start or the end, no anchor) is the same slice.
    for number in (2, (len(expected) + size - 1) // size - 1):
        page = ticket_service.ticket_page(engine, agent, flt, sort, page=number, size=size)
        start = (page.page - 1) * size  # a page past the end shows the last one
        assert [t.id for t in page.tickets] == expected[start : start + size]
        assert page.matching == len(expected)


def read_all_pages(
    engine: Engine, flt: TicketFilter, sort: Sort, size: int, total: int | None, few: int
) -> tuple[list[int], dict[int, list[int]]]:
    """With ticket_table directly: every page in turn from the anchor of the one before, and
    every page jumped to from the start (or the end when `total` is given)."""

    def work(conn: Connection) -> tuple[list[int], dict[int, list[int]]]:
        pages = max(1, -(-(total if total is not None else 10**6) // size))
        walked: list[int] = []
        anchor = None
        for number in range(1, pages + 1):
            rows, anchor, _ = ticket_table.fetch_page(
                conn, flt, sort, number, size, total, anchor, few_matches=few
            )
            if not rows:
                break
            walked += [t.id for t in rows]
        jumped = {}
        for number in range(1, pages + 1):
            rows, _, _ = ticket_table.fetch_page(
                conn, flt, sort, number, size, total, None, few_matches=few
            )
            if not rows:
                break
            jumped[number] = [t.id for t in rows]
        return walked, jumped

    return db.read(engine, work)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 30),
    rare=st.sets(st.integers(0, 29), max_size=3),
    size=st.integers(1, 7),
    sort=sorts,
    # a word in a few tickets; one in about a quarter; a prefix of both ("toner", "token");
    # one no ticket holds
    search=st.sampled_from(["toner", "printer", "to", "zebra"]),
)
def test_both_search_plans_return_the_rows_of_a_plain_scan(
    engine: Engine,
    agent: Account,
    seed: int,
    n: int,
    rare: set[int],
    size: int,
    sort: Sort,
    search: str,
) -> None:
    """On PostgreSQL a search page reads its matches through the GIN index first, or walks
    the sort order's index checking each ticket (ticket_table.search_plan): each plan, forced
    here, pages through exactly the tickets that a scan of every ticket finds, in order.
    (SQLite has one plan: the same rows all the same.)"""
    made = make_desk(engine, agent, n, seed)
    for i in sorted(rare):
        if i < n:
            change = TicketChange(issue=f"Toner low, error E{i}: see token {i}")
            ticket_service.update_ticket(engine, agent, made[i].id, change, START)
    current = ticket_service.list_tickets(engine, agent)
    expected = expected_order([t for t in current if found_by(search, t.issue)], sort)
    flt = TicketFilter(search=search)
    pages = [expected[i : i + size] for i in range(0, len(expected), size)]
    jumped = {number: ids for number, ids in enumerate(pages, 1)}
    # Matches first: their number known (as counted), and at most `few` (here: any number).
    assert read_all_pages(engine, flt, sort, size, len(expected), few=10**6) == (expected, jumped)
    # The walk: their number unknown (as when the count stopped at the cap).
    assert read_all_pages(engine, flt, sort, size, None, few=0) == (expected, jumped)
    # Known, more than `few`: the walk for the first and last pages and steps from an anchor,
    # matches first for a page that skips some.
    assert read_all_pages(engine, flt, sort, size, len(expected), few=0) == (expected, jumped)


def test_the_plan_follows_the_count_on_postgresql(engine: Engine) -> None:
    """Matches first when they are at most FEW_MATCHES (2,000), or known and the page skips
    some; the walk otherwise; no choice on SQLite or without a search."""
    words, nothing = TicketFilter(search="printer"), TicketFilter(statuses=("Open",))

    def plans(conn: Connection) -> list[SearchPlan | None]:
        return [
            ticket_table.search_plan(conn, words, 2000, 0),
            ticket_table.search_plan(conn, words, 2001, 0),
            ticket_table.search_plan(conn, words, 2001, 50),
            ticket_table.search_plan(conn, words, None, 0),
            ticket_table.search_plan(conn, words, None, 9950),
            ticket_table.search_plan(conn, nothing, 10, 0),
        ]

    first, walk = SearchPlan.MATCHES_FIRST, SearchPlan.WALK
    expected = [first, walk, first, walk, walk, None]
    if engine.dialect.name == "sqlite":
        expected = [None] * 6
    assert db.read(engine, plans) == expected


def test_a_word_the_statistics_put_far_above_the_cap_is_not_counted(
    engine: Engine, agent: Account
) -> None:
    """PostgreSQL: after ANALYZE, "printer" in 40 of 45 tickets is at least 1.5 times a cap
    of 10, and so are "print" and "p" (prefixes of it): more than 10, without reading a ticket.
    "toner" (5 tickets), two words, or a search with a filter are counted."""
    for i in range(45):
        issue = "Printer jams" if i < 40 else "Toner low"
        ticket_service.create_ticket(engine, agent, issue, "Low", START)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE tickets")
    sent: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        sent.append(statement)

    def counts(conn: Connection) -> list[tuple[int, bool]]:
        event.listen(engine, "before_cursor_execute", record)
        try:
            return [
                ticket_table.count(conn, TicketFilter(search=word), cap=10)
                for word in ("printer", "print", "p")
            ]
        finally:
            event.remove(engine, "before_cursor_execute", record)

    assert db.read(engine, counts) == [(10, True)] * 3
    reads_tickets = [s for s in sent if re.search(r"\bFROM tickets\b", s)]
    if engine.dialect.name == "postgresql":
        assert reads_tickets == []
    else:  # SQLite counts in its full-text index, not the tickets either
        assert all("tickets_fts" in s for s in reads_tickets)

    def other_counts(conn: Connection) -> list[tuple[int, bool]]:
        return [
            ticket_table.count(conn, TicketFilter(search="toner"), cap=10),
            ticket_table.count(conn, TicketFilter(search="printer jams"), cap=100),
            ticket_table.count(conn, TicketFilter(search="printer", statuses=("Open",)), cap=100),
        ]

    assert db.read(engine, other_counts) == [(5, False), (40, False), (40, False)]

    def deep_page_plans(conn: Connection) -> list[SearchPlan | None]:
        # Past the cap (total None), 100 matches skipped: walking to them reads about
        # 150 * 45 / 5 = 1,350 tickets for "toner", more than 8 reads of each of its 5
        # matches; 150 * 45 / 40 = 169 for "printer", less than 8 * 40 = 320.
        return [
            ticket_table.search_plan(conn, TicketFilter(search=word), None, 100, 50)
            for word in ("toner", "printer")
        ]

    plans = db.read(engine, deep_page_plans)
    if engine.dialect.name == "postgresql":
        assert plans == [SearchPlan.MATCHES_FIRST, SearchPlan.WALK]
    else:
        assert plans == [None, None]


def test_issue_sort_pages_match_one_full_query(engine: Engine, agent: Account) -> None:
    # Issue order follows the database's collation, so the oracle is one unpaged query.
    make_desk(engine, agent, 23, seed=3)
    sort = Sort(SortColumn.ISSUE, descending=False)
    everything = ticket_service.ticket_page(engine, agent, TicketFilter(), sort, size=1000)
    oracle = [t.id for t in everything.tickets]
    assert walk(engine, agent, TicketFilter(), sort, 4, backwards=False) == oracle
    assert walk(engine, agent, TicketFilter(), sort, 4, backwards=True) == oracle
    issues = [t.issue for t in everything.tickets]
    assert len(set(issues)) < len(issues)  # the column really has ties


def test_page_numbers_past_the_end_show_the_last_page(engine: Engine, agent: Account) -> None:
    make_desk(engine, agent, 7, seed=1)
    page = ticket_service.ticket_page(engine, agent, TicketFilter(), Sort(), page=99, size=3)
    assert (page.page, page.pages, len(page.tickets)) == (3, 3, 1)


def make_past_the_cap(engine: Engine, requester: Account, other: Account) -> None:
    """Tickets 1 to 36: the multiples of 6 are `other`'s toner tickets, the 30 others
    `requester`'s printer tickets; ticket n is High when n % 3 == 0, Medium at 1, Low at 2."""
    for n in range(1, 37):
        by, issue = (
            (other, f"Toner low, tray {n}") if n % 6 == 0 else (requester, f"Printer jams {n}")
        )
        made = ticket_service.create_ticket(
            engine, by, issue, ("High", "Medium", "Low")[n % 3], START
        )
        assert made.id == n


# The 30 printer tickets: by id, newest first; by priority, High first (ties by id).
PRINTERS_BY_ID_DESC = [n for n in range(36, 0, -1) if n % 6]
PRINTERS_BY_PRIORITY = [
    *[3, 9, 15, 21, 27, 33],
    *[1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 34],
    *[2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35],
]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (Sort(SortColumn.ID, descending=True), PRINTERS_BY_ID_DESC),
        (Sort(SortColumn.PRIORITY, descending=False), PRINTERS_BY_PRIORITY),
    ],
)
def test_following_pages_past_a_capped_count_reaches_every_match(
    engine: Engine,
    agent: Account,
    requester: Account,
    other_requester: Account,
    sort: Sort,
    expected: list[int],
) -> None:
    # The API's cursors (GET /tickets): page 1, then each page from the anchor of the one
    # before, while `more`. With the count capped at 10 they stopped at page 3 (12 of 30).
    make_past_the_cap(engine, requester, other_requester)
    views = [(agent, TicketFilter(search="printer")), (requester, TicketFilter())]
    for (by, flt), size in itertools.product(views, (4, 5)):  # 4: 30 = 7 * 4 + 2; 5: 6 * 5
        page = ticket_service.ticket_page(engine, by, flt, sort, size=size, cap=10)
        seen = [t.id for t in page.tickets]
        while page.more:
            assert (page.matching, page.matching_is_lower_bound) == (10, True)
            assert len(page.tickets) == size and page.anchor is not None
            assert len(seen) < len(expected)  # no endless walk
            number = page.anchor.page + 1
            page = ticket_service.ticket_page(
                engine, by, flt, sort, number, page.anchor, size=size, cap=10
            )
            assert page.page == number
            seen += [t.id for t in page.tickets]
        assert page.tickets, "the last page is not an empty one"
        assert seen == expected, (by.name, flt, size)


def test_the_tables_pages_keep_to_a_capped_count(
    engine: Engine, agent: Account, requester: Account, other_requester: Account
) -> None:
    # The Tickets page offers the pages of the count (10 of 30 matches: 3 pages of 4); a page
    # number past them shows the last of them, but for the page right after the anchor's (as
    # the API's cursors ask for it), which goes on past the count.
    make_past_the_cap(engine, requester, other_requester)
    flt, sort = TicketFilter(search="printer"), Sort()
    last = ticket_service.ticket_page(engine, agent, flt, sort, page=9, size=4, cap=10)
    assert (last.page, last.pages, last.matching, last.matching_is_lower_bound) == (3, 3, 10, True)
    assert [t.id for t in last.tickets] == PRINTERS_BY_ID_DESC[8:12]
    assert last.more and last.anchor is not None
    jumped = ticket_service.ticket_page(engine, agent, flt, sort, 5, last.anchor, size=4, cap=10)
    assert (jumped.page, jumped.pages) == (3, 3)
    assert [t.id for t in jumped.tickets] == PRINTERS_BY_ID_DESC[8:12]
    after = ticket_service.ticket_page(engine, agent, flt, sort, 4, last.anchor, size=4, cap=10)
    assert (after.page, after.pages) == (4, 4)
    assert [t.id for t in after.tickets] == PRINTERS_BY_ID_DESC[12:16]


def test_filters_by_priority_and_submission_day(
    engine: Engine, requester: Account, agent: Account
) -> None:
    day = START.date()
    ticket_service.create_ticket(engine, requester, "a", "High", START)
    ticket_service.create_ticket(engine, requester, "b", "Low", START + timedelta(days=1))
    ticket_service.create_ticket(
        engine, requester, "c", "High", START + timedelta(days=2, hours=23)
    )
    flt = TicketFilter(priorities=("High",), submitted_from=day + timedelta(1))
    page = ticket_service.ticket_page(engine, agent, flt, Sort())
    assert [t.issue for t in page.tickets] == ["c"]
    assert page.matching == 1
    flt = TicketFilter(submitted_from=day, submitted_to=day + timedelta(1))
    shown = ticket_service.ticket_page(engine, agent, flt, Sort()).tickets
    assert [t.issue for t in shown] == ["b", "a"]


def test_search_follows_every_insert_and_edit(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    printer = ticket_service.create_ticket(
        engine, requester, "Printer jams on the 3rd floor", "Low", now
    )
    ticket_service.create_ticket(engine, requester, "VPN drops at night", "High", now)

    def found(text: str) -> list[str]:
        page = ticket_service.ticket_page(engine, agent, TicketFilter(search=text), Sort())
        return [t.issue for t in page.tickets]

    assert found("printer") == ["Printer jams on the 3rd floor"]
    assert found("PRINT jam") == ["Printer jams on the 3rd floor"]  # prefixes, any case
    assert found("printer vpn") == []  # every word must match
    ticket_service.update_ticket(engine, agent, printer.id, TicketChange(issue="Scanner jams"), now)
    assert found("printer") == []
    assert found("scanner") == ["Scanner jams"]
    assert (
        ticket_service.ticket_page(engine, agent, TicketFilter(search="jams"), Sort()).matching == 1
    )


def test_a_search_counts_the_same_alone_and_with_other_filters(
    engine: Engine, now: datetime, requester: Account, agent: Account
) -> None:
    # Three printer tickets (two filed by the requester, one closed), two others. A search
    # alone is counted in the full-text index; with a filter, or for a requester (who sees
    # only their own), over the tickets.
    mine = ticket_service.create_ticket(engine, requester, "Printer jams", "Low", now)
    ticket_service.create_ticket(engine, requester, "printer toner empty", "High", now)
    ticket_service.create_ticket(engine, agent, "Printer offline", "Low", now)
    ticket_service.create_ticket(engine, requester, "VPN drops", "Low", now)
    ticket_service.create_ticket(engine, agent, "Print server down", "High", now)  # "print" only
    ticket_service.update_ticket(engine, agent, mine.id, TicketChange(status="Closed"), now)

    def matching(by: Account, flt: TicketFilter) -> int:
        return ticket_service.ticket_page(engine, by, flt, Sort()).matching

    assert matching(agent, TicketFilter(search="printer")) == 3
    assert matching(agent, TicketFilter(search="print")) == 4
    assert matching(requester, TicketFilter(search="printer")) == 2
    assert matching(agent, TicketFilter(search="printer", statuses=("Open",))) == 2
    assert matching(agent, TicketFilter(search="printer", priorities=("High",))) == 1


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        # No letters or digits: no search at all, the one ticket shows.
        ('"', 1),
        ("*", 1),
        ("^-:", 1),
        ("\\", 1),
        ("()", 1),
        ("🎫", 1),
        # Query syntax is just words: "a", "or", "near" start none of the ticket's words.
        ("a OR", 0),
        ("NEAR(", 0),
        ("'; DROP TABLE tickets; --", 1),  # drop, table, tickets: all there
    ],
)
def test_search_syntax_characters_are_only_separators(
    engine: Engine, now: datetime, agent: Account, text: str, matches: int
) -> None:
    ticket_service.create_ticket(engine, agent, "Drop table tickets from the report", "Low", now)
    page = ticket_service.ticket_page(engine, agent, TicketFilter(search=text), Sort())
    assert page.matching == matches


def test_counts_come_from_the_counters_and_agree_with_rows(engine: Engine, agent: Account) -> None:
    made = make_desk(engine, agent, 30, seed=9)
    for status in STATUSES:
        flt = TicketFilter(statuses=(status,))
        expected = sum(1 for t in ticket_service.list_tickets(engine, agent) if t.status == status)
        assert ticket_service.ticket_page(engine, agent, flt, Sort()).matching == expected
    assert ticket_service.ticket_page(engine, agent, TicketFilter(), Sort()).matching == len(made)
    with engine.begin() as conn:
        projections.rebuild(conn)
    assert ticket_service.ticket_page(engine, agent, TicketFilter(), Sort()).matching == len(made)


def test_export_streams_every_matching_ticket_in_order(engine: Engine, agent: Account) -> None:
    make_desk(engine, agent, 12, seed=5)
    flt = TicketFilter(priorities=("High", "Low"))
    sort = Sort(SortColumn.PRIORITY, descending=False)
    shown = ticket_service.ticket_page(engine, agent, flt, sort, size=100).tickets
    exported = ticket_service.export_tickets(engine, agent, flt, sort)
    assert [t.id for t in exported] == [t.id for t in shown]


def test_first_day_filter_uses_utc_days(engine: Engine, agent: Account) -> None:
    ticket_service.create_ticket(
        engine, agent, "late", "Low", datetime(2026, 5, 1, 23, 59, tzinfo=UTC)
    )
    flt = TicketFilter(submitted_from=date(2026, 5, 2))
    assert ticket_service.ticket_page(engine, agent, flt, Sort()).matching == 0


def test_page_one_shows_a_ticket_filed_after_it_was_drawn(
    engine: Engine, requester: Account, agent: Account
) -> None:
    make_desk(engine, agent, 5, seed=2)
    first = ticket_service.ticket_page(engine, agent, TicketFilter(), Sort(), size=3)
    newest = ticket_service.create_ticket(
        engine, requester, "just filed", "High", START + timedelta(days=9)
    )
    again = ticket_service.ticket_page(
        engine, agent, TicketFilter(), Sort(), page=1, anchor=first.anchor, size=3
    )
    assert again.tickets[0].id == newest.id
