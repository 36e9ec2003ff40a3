"""What the live view of open pages asks the database. One watcher per app server
(app_components.live) asks it for every open page of the server at once: whether the desk
changed (its revision, or an announcement on PostgreSQL), whether the pages' sign-in sessions
are still open (services.accounts.open_sessions), and, when the desk changed, whether what
each page shows changed: each distinct view is read again once, however many pages show it.

What a page shows is a `Watch`: a view (a page of the ticket list, or one ticket) and the mark
it had when the page read it. Reading the view again gives another mark exactly when the
page would show something else:
- a page of the list: its tickets' IDs and versions (every change of a ticket moves its
  version, messages and files included), its number, the number of pages and of matching
  tickets, and the SLA targets (which move every row's time left);
- a ticket: its version and the SLA targets.
Anything else that moves the desk revision (the dashboard's figures) redraws every page that
does not say what it shows.

The pages of the list that show one view at one desk revision share one read of it within
the server (`list_page`): a change wakes every page that shows it, and most agents show the
same first page; the watcher's own read of the view (`measure`) is the one they share."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Collection, Hashable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.sla import SlaTarget
from ticketdesk.domain.tickets import Priority
from ticketdesk.queries import desk
from ticketdesk.queries import tickets as ticket_reads
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.tickets import (
    PageAnchor,
    Sort,
    TicketDetail,
    TicketFilter,
    TicketPage,
)
from ticketdesk.store import targets as target_store
from ticketdesk.store.changes import DESK as DESK
from ticketdesk.store.changes import SESSIONS as SESSIONS
from ticketdesk.store.changes import Listener
from ticketdesk.store.db import read


@dataclass(frozen=True)
class ListView:
    """A page of the ticket list, as the page showing it reads it again: the filter narrowed
    to what its viewer may see (pages of two people who see the same share it), the sort,
    the page number and, past page 1, where the page shown starts (services.tickets)."""

    flt: TicketFilter
    sort: Sort
    page: int
    anchor: PageAnchor | None


@dataclass(frozen=True)
class TicketView:
    ticket_id: int


View = ListView | TicketView


@dataclass(frozen=True)
class Watch:
    """What an open page shows, and its mark when the page read it."""

    view: View
    mark: Hashable


def list_view(
    by: Account, flt: TicketFilter, sort: Sort, page: int, anchor: PageAnchor | None
) -> ListView:
    """The view of page `page` of the list, read by `by` with `flt` and `sort` from `anchor`
    (the anchor of the page shown before)."""
    return ListView(
        ticket_service.visible_to(by, flt),
        sort,
        page,
        anchor if page > 1 else None,  # page 1 is read from the start anyway
    )


def watch_list(by: Account, flt: TicketFilter, sort: Sort, shown: TicketPage) -> Watch:
    """The Watch of a page of the list that shows `shown`, read by `by` with `flt` and `sort`
    (its next run asks for page `shown.page` from `shown.anchor`)."""
    return Watch(list_view(by, flt, sort, shown.page, shown.anchor), list_mark(shown))


def list_page(
    engine: Engine,
    by: Account,
    flt: TicketFilter,
    sort: Sort,
    page: int = 1,
    anchor: PageAnchor | None = None,
) -> TicketPage:
    """services.tickets.ticket_page, shared: the page read by the latest read of the same
    view (the filter as narrowed for `by`, the sort, the page, where it starts) at the desk
    revision of now, if one was made in this server, else a read of its own, which the next
    pages of the view share. Every write moves the revision in its own transaction, so
    one view read at one revision shows the same tickets whoever reads it; the revision is
    read first, in the snapshot the page is read from when it is not shared. The page is
    shared: what it holds must not be changed."""
    view = list_view(by, flt, sort, page, anchor)

    def work(conn: Connection) -> TicketPage:
        revision = desk.current_revision(conn)
        shared = _pages.get(engine, view, revision)
        if shared is not None:
            return shared
        shown = ticket_service.read_page(conn, view.flt, view.sort, view.page, view.anchor)
        _pages.put(engine, view, shown)
        return shown

    return read(engine, work)


class _SharedPages:
    """The latest pages of the list read in this server, by engine (tests use many), view
    and desk revision: a few, the least recently used going first. Safe from any thread."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary[
            Engine, OrderedDict[tuple[ListView, int], TicketPage]
        ] = weakref.WeakKeyDictionary()

    def get(self, engine: Engine, view: ListView, revision: int) -> TicketPage | None:
        with self._lock:
            pages = self._by_engine.get(engine)
            if pages is None or (view, revision) not in pages:
                return None
            pages.move_to_end((view, revision))
            return pages[view, revision]

    def put(self, engine: Engine, view: ListView, shown: TicketPage) -> None:
        with self._lock:
            pages = self._by_engine.setdefault(engine, OrderedDict())
            pages[view, shown.revision] = shown
            pages.move_to_end((view, shown.revision))
            while len(pages) > self._size:
                pages.popitem(last=False)


SHARED_PAGES = 64
"""How many pages of the list a server keeps to share (the views shown at the latest
revisions; a page of 50 tickets is some tens of kB)."""
_pages = _SharedPages(SHARED_PAGES)


def watch_ticket(detail: TicketDetail) -> Watch:
    return Watch(TicketView(detail.ticket.id), (detail.ticket.version, _targets(detail.targets)))


def list_mark(shown: TicketPage) -> Hashable:
    return (
        shown.page,
        shown.pages,
        shown.matching,
        shown.matching_is_lower_bound,
        tuple((t.id, t.version) for t in shown.tickets),
        _targets(shown.targets),
    )


def _targets(targets: dict[Priority, SlaTarget]) -> Hashable:
    return tuple(sorted((p.value, t) for p, t in targets.items()))


def measure(engine: Engine, views: Collection[View]) -> dict[View, Hashable]:
    """The mark of each view now, from one snapshot: one primary-key read for every ticket
    shown, and one page read per distinct page of the list (kept for the pages that show it
    to share: list_page). A ticket that no longer exists has no mark."""

    def work(conn: Connection) -> dict[View, Hashable]:
        targets = _targets(target_store.load_targets(conn))
        marks: dict[View, Hashable] = {}
        ticket_ids = [v.ticket_id for v in views if isinstance(v, TicketView)]
        if ticket_ids:
            versions = ticket_reads.versions_of(conn, ticket_ids)
            for ticket_id, version in versions.items():
                marks[TicketView(ticket_id)] = (version, targets)
        for view in views:
            if isinstance(view, ListView):
                page = ticket_service.read_page(conn, view.flt, view.sort, view.page, view.anchor)
                _pages.put(engine, view, page)  # the pages it wakes read it from here
                marks[view] = list_mark(page)
        return marks

    return read(engine, work)


def desk_revision(engine: Engine) -> int:
    return ticket_service.desk_revision(engine)


def listen(engine: Engine) -> Listener | None:
    """A connection told of every change (PostgreSQL; raises DatabaseUnavailable if it
    cannot be opened), or None where changes are not announced (SQLite: poll the revision)."""
    if engine.dialect.name != "postgresql":
        return None
    return Listener(engine)
