"""SQL for the ticket table: filters, full-text search, sorting and index-backed (keyset)
pagination, counts from the counters, and a streamed export. The caller owns the transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from ticketdesk.domain.tickets import Ticket, day_start
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.schema import ISSUE_SORT_KEY, ticket_counts, tickets

SEARCH_COUNT_CAP = 10_000
"""Matches are counted up to this many; beyond it the table says "more than 10,000". The
pages past it are read from the anchor of the page before (fetch_page), as the API's cursors
do to the last match."""
FEW_MATCHES = 2_000
"""PostgreSQL: a search with at most this many matches (counted first) reads them all through
the full-text index and sorts them; one with more walks the sort order's index and checks each
ticket's words until the page is full. The planner cannot choose between the two itself: it
estimates every prefix search at 2% of the tickets, and so walked the index for a word no
ticket holds through all 1M tickets (3 s). The first page at 1M tickets, matches first / walk:
100 matches 2 / 105-180 ms, 2,000 matches 4-5 / 6-13 ms, 10,000 matches 14 / 2-3 ms."""
SURELY_MORE = 1.5
"""See surely_more_than."""
WALK_PER_MATCH = 8
"""PostgreSQL at 1M tickets: reading a match through the GIN index costs about as much as
checking 8 tickets on a walk of a sort index (10,000 matches: 14 ms; a walk through all 1M
tickets: 105-180 ms)."""
_FTS = table("tickets_fts", column("rowid"), column("tickets_fts"))
_SEARCH_VECTOR: ColumnElement[Any] = literal_column("tickets.issue_search", TSVECTOR())
"""PostgreSQL: the issue's words, a stored generated column (migration 0014) under a GIN index.
Not in the table definitions, which SQLite shares (its search index is an FTS5 table)."""


class SortColumn(StrEnum):
    ID = "ID"
    ISSUE = "Issue"
    STATUS = "Status"
    PRIORITY = "Priority"
    SUBMITTED = "Date Submitted"


_SORT_KEYS: dict[SortColumn, Any] = {
    SortColumn.ID: tickets.c.id,
    SortColumn.ISSUE: ISSUE_SORT_KEY,
    SortColumn.STATUS: tickets.c.status_rank,
    SortColumn.PRIORITY: tickets.c.priority_rank,
    SortColumn.SUBMITTED: tickets.c.created_at,
}


@dataclass(frozen=True)
class TicketFilter:
    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    submitted_from: date | None = None
    submitted_to: date | None = None
    search: str = ""
    assignee: str | None = None  # only this agent's tickets
    unassigned: bool = False  # only tickets nobody is working on
    requester_id: int | None = None  # only the tickets this account filed

    @property
    def counted_by_counters(self) -> bool:
        """Whether the counters can count this view (they know day, status and priority)."""
        return (
            not search_terms(self.search)
            and self.assignee is None
            and not self.unassigned
            and self.requester_id is None
        )


@dataclass(frozen=True)
class Sort:
    column: SortColumn = SortColumn.ID
    descending: bool = True


@dataclass(frozen=True)
class PageAnchor:
    """Where a shown page starts and ends, to step from it without counting rows."""

    page: int
    first: tuple[Any, int]
    last: tuple[Any, int]


class FetchedPage(NamedTuple):
    """A page of tickets, its anchor (None when it is empty) and, when fetch_page was asked to
    `peek`, whether a matching ticket follows it (None: not looked)."""

    tickets: list[Ticket]
    anchor: PageAnchor | None
    more: bool | None = None


def search_terms(text: str) -> list[str]:
    """Words of a search box, lower-cased; everything but letters and digits separates them,
    so no input can reach the full-text query syntax."""
    return re.findall(r"\w+", text.lower())[:16]


def _fts_match(terms: list[str]) -> ColumnElement[bool]:
    """SQLite: the search index's rows whose issue holds every word, each as a prefix."""
    match = " ".join(f'"{t}"*' for t in terms)
    return _FTS.c.tickets_fts.op("MATCH")(match)


def _fts_matches(terms: list[str]) -> Select[Any]:
    """SQLite: the ids of the tickets whose issue holds every word, each as a prefix."""
    return select(_FTS.c.rowid).where(_fts_match(terms))


def _search_condition(conn: Connection, terms: list[str]) -> ColumnElement[bool]:
    if conn.dialect.name == "sqlite":
        return tickets.c.id.in_(_fts_matches(terms))
    query = " & ".join(f"{t}:*" for t in terms)
    simple: ColumnElement[Any] = literal_column("'simple'")
    return _SEARCH_VECTOR.bool_op("@@")(func.to_tsquery(simple, query))


def _conditions(
    conn: Connection, flt: TicketFilter, with_search: bool = True
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.statuses:
        conditions.append(tickets.c.status.in_(flt.statuses))
    if flt.priorities:
        conditions.append(tickets.c.priority.in_(flt.priorities))
    if flt.submitted_from:
        conditions.append(tickets.c.created_at >= day_start(flt.submitted_from))
    if flt.submitted_to:
        conditions.append(tickets.c.created_at < day_start(flt.submitted_to + timedelta(1)))
    if flt.assignee is not None:
        conditions.append(tickets.c.assignee == flt.assignee)
    if flt.unassigned:
        conditions.append(tickets.c.assignee.is_(None))
    if flt.requester_id is not None:
        conditions.append(tickets.c.requester_id == flt.requester_id)
    terms = search_terms(flt.search)
    if terms and with_search:
        conditions.append(_search_condition(conn, terms))
    return conditions


def count(conn: Connection, flt: TicketFilter, cap: int = SEARCH_COUNT_CAP) -> tuple[int, bool]:
    """(tickets matching, whether the count stopped at `cap`). Without a search or an assignee
    filter the counters answer exactly and at once; on PostgreSQL a one-word search that the
    statistics put far above the cap is not counted (surely_more_than)."""
    if not flt.counted_by_counters:
        terms = search_terms(flt.search)
        search_alone = flt == TicketFilter(search=flt.search)
        if conn.dialect.name == "sqlite" and search_alone:
            # A search alone is counted in the full-text index (a row per ticket), without
            # visiting the tickets ("printer" at 1M on a slow VM: 31 ms -> 5 ms).
            capped = _fts_matches(terms).limit(cap + 1)
        elif search_alone and surely_more_than(conn, terms, cap):
            return cap, True
        else:
            capped = select(tickets.c.id).where(*_conditions(conn, flt))
            capped = capped.limit(cap + 1)
        n = conn.execute(select(func.count()).select_from(capped.subquery())).scalar_one()
        return min(n, cap), n > cap
    c = ticket_counts.c
    query = select(func.coalesce(func.sum(c.tickets), 0))
    if flt.statuses:
        query = query.where(c.status.in_(flt.statuses))
    if flt.priorities:
        query = query.where(c.priority.in_(flt.priorities))
    if flt.submitted_from:
        query = query.where(c.created_day >= flt.submitted_from.isoformat())
    if flt.submitted_to:
        query = query.where(c.created_day <= flt.submitted_to.isoformat())
    return int(conn.execute(query).scalar_one()), False


@dataclass(frozen=True)
class _Order:
    """How a page query is ordered: by `key` then `id` (or by `key` alone when it is `unique`,
    the id itself), in `descending` order or not."""

    key: Any
    id: Any
    descending: bool
    unique: bool = False
    keys_only: bool = False  # the query gives ids and sort keys, not the tickets


_WORD_SHARES = text(
    "SELECT s.most_common_elems::text::text[] AS words, s.most_common_elem_freqs AS shares, "
    "c.reltuples AS rows FROM pg_stats s "
    "JOIN pg_namespace n ON n.nspname = s.schemaname "
    "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename "
    "WHERE s.schemaname = current_schema() AND s.tablename = 'tickets' "
    "AND s.attname = 'issue_search'"
)


@dataclass(frozen=True)
class WordEstimate:
    """PostgreSQL's statistics on a one-word search: at least `least` and about `most`
    tickets (of `rows`) hold a word beginning with it."""

    least: float
    most: float
    rows: float


def estimate_matches(conn: Connection, terms: list[str]) -> WordEstimate | None:
    """PostgreSQL: what the statistics of the tickets' words (ANALYZE's most common words and
    the share of tickets holding each, from a sample of 30,000) say of a one-word search; None
    for several words (nothing tells how many tickets hold them all), SQLite, or no
    statistics. A ticket holding any listed word that begins with the term matches: the
    commonest such word's share is a lower bound, their sum about the most (words too rare to
    be listed add a little)."""
    if conn.dialect.name != "postgresql" or len(terms) != 1 or "_" in terms[0]:
        return None
    row = conn.execute(_WORD_SHARES).first()
    if row is None or not row.words or row.rows <= 0:
        return None
    shares = zip(row.words, row.shares[: len(row.words)], strict=True)  # 3 more follow them
    matching = [f for w, f in shares if w.startswith(terms[0])]
    rows = float(row.rows)
    return WordEstimate(max(matching, default=0.0) * rows, min(sum(matching), 1.0) * rows, rows)


def surely_more_than(conn: Connection, terms: list[str], cap: int) -> bool:
    """PostgreSQL: whether the statistics put a one-word search at SURELY_MORE times `cap`
    matches or more (estimate_matches). Such a search is not counted: PostgreSQL counts
    through the GIN index by reading every match's ticket, up to the cap (at 1M tickets,
    10,000 scattered pages for a word in 5% of them: 50-100 ms), where the walk to its first
    page reads a thousand tickets. At 1.5 times the cap a sample of 30,000 cannot be wrong
    about the cap (15,000 of 1M tickets: 450 of the sample, where 10,000 hold 300 +- 17); only
    statistics that are stale by a third of the word's tickets could."""
    estimate = estimate_matches(conn, terms)
    return estimate is not None and estimate.least >= SURELY_MORE * cap


def _ordered(
    conn: Connection, flt: TicketFilter, sort: Sort, forward: bool, few: bool = False
) -> tuple[Select[Any], _Order]:
    """The matching tickets in `sort` order (reversed unless `forward`), with their sort key.
    `few`: the search's matches are known to be few (PostgreSQL): read them all first."""
    descending = sort.descending == forward
    terms = search_terms(flt.search)
    if terms and sort.column is SortColumn.ID and conn.dialect.name == "sqlite":
        # The search index's own order, rowid = ticket id: SQLite reads the matches newest
        # (or oldest) first and stops at the page. Given `id IN (matches)` it looked up and
        # sorted every match instead: 15 ms against 2 for a word in 66k of 1M tickets.
        key = _FTS.c.rowid
        query = (
            select(*ticket_store.TICKET_COLUMNS, key.label("sort_key"))
            .select_from(_FTS.join(tickets, tickets.c.id == key))
            .where(*_conditions(conn, flt, with_search=False), _fts_match(terms))
        )
        order = _Order(key, key, descending, unique=True)
    elif terms and few and conn.dialect.name == "postgresql":
        # Every match's id and sort key through the full-text index (MATERIALIZED: not folded
        # into the outer query, whose ORDER BY ... LIMIT would make the planner walk the sort
        # index again), then sorted; fetch_page reads the page's tickets by id.
        key = _SORT_KEYS[sort.column]
        matches = (
            select(tickets.c.id, key.label("sort_key"))
            .where(*_conditions(conn, flt))
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        query = select(matches.c.id, matches.c.sort_key)
        order = _Order(matches.c.sort_key, matches.c.id, descending, keys_only=True)
    else:
        key = _SORT_KEYS[sort.column]
        query = select(*ticket_store.TICKET_COLUMNS, key.label("sort_key")).where(
            *_conditions(conn, flt)
        )
        order = _Order(key, tickets.c.id, descending)
    by = [order.key] if order.unique else [order.key, order.id]
    return query.order_by(*([c.desc() for c in by] if descending else by)), order


def _beyond(order: _Order, boundary: tuple[Any, int], inclusive: bool = False) -> Any:
    """Rows past `boundary` (sort key, id) in the query's order; a key that is the id itself
    (`unique`) is compared alone, as the search index can use only that."""
    pair: Any
    edge: Any
    if order.unique:
        pair, edge = order.key, literal(boundary[1], type_=Integer())
    else:
        pair = tuple_(order.key, order.id)
        edge = tuple_(
            literal(boundary[0], type_=order.key.type), literal(boundary[1], type_=Integer())
        )
    if order.descending:
        return pair <= edge if inclusive else pair < edge
    return pair >= edge if inclusive else pair > edge


class SearchPlan(StrEnum):
    """How PostgreSQL reads a page of a search (SQLite's full-text index needs no choice)."""

    MATCHES_FIRST = "every match through the GIN index, then sorted"
    WALK = "the sort order's index, checking each ticket's words, until the page is full"


def search_plan(
    conn: Connection,
    flt: TicketFilter,
    total: int | None,
    skip: int,
    size: int = 50,
    few_matches: int = FEW_MATCHES,
) -> SearchPlan | None:
    """The plan of a page of `flt` that skips `skip` matches, `total` being the exact number
    of matches or None; None when it is no search on PostgreSQL (the planner chooses).

    The planner puts every prefix search at 2% of the tickets, so it cannot choose: it walked
    the index for a word no ticket holds through all 1M tickets (3 s), and read and sorted
    every match of a common word to skip to its 200th page (0.5 s). Known few matches (at
    most `few_matches`) are read first; so are at most SEARCH_COUNT_CAP of them when the page
    skips some (walking past `skip` matches of a word in 1% of the tickets reads `skip` * 100
    tickets), and the matches of a single word past the cap when the statistics say that
    reading them costs less than walking to a deep page (WALK_PER_MATCH); otherwise the walk,
    which finds a page of a frequent word within a few thousand tickets."""
    if conn.dialect.name != "postgresql" or not search_terms(flt.search):
        return None
    if total is not None and (total <= few_matches or skip > 0):
        return SearchPlan.MATCHES_FIRST
    if total is None and skip > 0:
        # More than SEARCH_COUNT_CAP matches, a page deep among them: walking to it reads
        # about (skip + size) / share-of-tickets tickets, reading every match about `most`.
        estimate = estimate_matches(conn, search_terms(flt.search))
        if estimate is not None:
            walked = (skip + size) * estimate.rows / max(estimate.least, 1.0)
            if walked > WALK_PER_MATCH * estimate.most:
                return SearchPlan.MATCHES_FIRST
    return SearchPlan.WALK


def fetch_page(
    conn: Connection,
    flt: TicketFilter,
    sort: Sort,
    page: int,
    size: int,
    total: int | None,
    anchor: PageAnchor | None,
    few_matches: int = FEW_MATCHES,
    peek: bool = False,
) -> FetchedPage:
    """Page `page` (from 1) of the matching tickets in `sort` order. It is reached from the
    nearest known place (the start, the end when `total` is exact, or the `anchor` of the page
    shown before) so that its cost does not grow with its number. On PostgreSQL a search reads
    its matches first or walks the sort order by search_plan (`few_matches` is for tests).
    `peek`: also tell whether a ticket follows the page, from one more row read with it (when
    the page is read forward, as it is from the start or from the anchor of the page before;
    read from the end or backward from an anchor, `more` stays None)."""
    # (pages to skip, preference, route): on a tie the start wins, so page 1 always shows
    # the newest tickets even when the anchor is page 1 as it was drawn before they came.
    routes: list[tuple[int, int, str]] = [(page - 1, 0, "start")]
    if total is not None:
        last_page = max(1, -(-total // size))
        routes.append((last_page - page, 2, "end"))
    if anchor is not None:
        routes.append((abs(page - anchor.page), 1, "anchor"))
    *_, route = min(routes)
    boundary: tuple[tuple[Any, int], bool] | None = None  # (sort key, id), inclusive
    take = size
    if route == "start":
        forward, skip = True, (page - 1) * size
    elif route == "end":
        assert total is not None
        on_last = total - (last_page - 1) * size
        forward = False
        skip = 0 if page == last_page else on_last + (last_page - page - 1) * size
        take = on_last if page == last_page else size
    else:
        assert anchor is not None
        forward = page >= anchor.page
        if page == anchor.page:
            boundary, skip = (anchor.first, True), 0
        elif forward:
            boundary, skip = (anchor.last, False), (page - anchor.page - 1) * size
        else:
            boundary, skip = (anchor.first, False), (anchor.page - page - 1) * size
    plan = search_plan(conn, flt, total, skip, take, few_matches)
    query, order = _ordered(conn, flt, sort, forward, few=plan is SearchPlan.MATCHES_FIRST)
    if boundary is not None:
        query = query.where(_beyond(order, boundary[0], inclusive=boundary[1]))
    peeking = peek and forward
    query = query.offset(skip).limit(take + 1 if peeking else take)
    page_query: Select[Any] = query
    if order.keys_only:
        keys = query.subquery("page")
        by = [keys.c.sort_key, keys.c.id]
        page_query = (
            select(*ticket_store.TICKET_COLUMNS, keys.c.sort_key)
            .join_from(keys, tickets, tickets.c.id == keys.c.id)
            .order_by(*([c.desc() for c in by] if order.descending else by))
        )
    if conn.dialect.name == "postgresql":
        rows = _run_planned(conn, page_query, walk=plan is SearchPlan.WALK)
    else:
        rows = list(conn.execute(page_query))
    more = len(rows) > take if peeking else None
    rows = rows[:take]
    if not forward:
        rows.reverse()
    if not rows:
        return FetchedPage([], None, more)
    found = [ticket_store.ticket_from_row(r) for r in rows]
    first, last = (rows[0].sort_key, rows[0].id), (rows[-1].sort_key, rows[-1].id)
    return FetchedPage(found, PageAnchor(page, first, last), more)


def _run_planned(conn: Connection, query: Select[Any], walk: bool) -> list[Any]:
    """PostgreSQL: `query`'s rows, planned for its own values, and as a walk of an index when
    `walk` (the planner would read a common word's every match for a deep OFFSET, taking it
    for 2% of the tickets)."""
    # psycopg prepares a statement run five times, and PostgreSQL then plans it once for
    # any LIMIT, OFFSET and words when that plan's estimate beats those of the plans made so
    # far: after a few deep OFFSETs (costly plans) the first page of any search was planned
    # as "read every match and sort them" (300-500 ms for a common word at 1M instead of 1).
    settings = ["plan_cache_mode = force_custom_plan"]
    if walk:
        settings += ["enable_seqscan = off", "enable_bitmapscan = off"]
    conn.exec_driver_sql("; ".join(f"SET LOCAL {s}" for s in settings))
    rows = list(conn.execute(query))
    if walk:  # the rest of the transaction is planned as usual
        conn.exec_driver_sql(
            "SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_bitmapscan TO DEFAULT"
        )
    return rows


def export_rows(conn: Connection, flt: TicketFilter, sort: Sort) -> Iterator[Ticket]:
    """Every matching ticket in `sort` order, streamed from a server-side cursor."""
    query, _ = _ordered(conn, flt, sort, forward=True)
    result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
    for row in result:
        yield ticket_store.ticket_from_row(row)
