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
does not say what it shows."""

from __future__ import annotations

from collections.abc import Collection, Hashable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.sla import SlaTarget
from ticketdesk.domain.tickets import Priority
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


def watch_list(by: Account, flt: TicketFilter, sort: Sort, shown: TicketPage) -> Watch:
    """The Watch of a page of the list that shows `shown`, read by `by` with `flt` and `sort`
    (its next run asks for page `shown.page` from `shown.anchor`)."""
    view = ListView(
        ticket_service.visible_to(by, flt),
        sort,
        shown.page,
        shown.anchor if shown.page > 1 else None,  # page 1 is read from the start anyway
    )
    return Watch(view, list_mark(shown))


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
    shown, and one page read per distinct page of the list. A ticket that no longer exists
    has no mark."""

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
