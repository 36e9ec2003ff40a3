"""What the UI and the command line call: plain values in, plain values out; each function
owns its transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ticketdesk.domain import sla
from ticketdesk.domain import tickets as rules
from ticketdesk.domain.accounts import (
    Account,
    Action,
    PermissionDenied,
    require,
    require_ticket_access,
)
from ticketdesk.domain.errors import TicketDeskError, TicketNotFound, ValidationError
from ticketdesk.domain.files import Attachment, Upload
from ticketdesk.domain.mail import DuplicateMail, InboundOutcome, MailOrigin
from ticketdesk.domain.sla import SlaState, SlaTarget
from ticketdesk.domain.tickets import (
    Change,
    EventKind,
    Message,
    MessageKind,
    Priority,
    Ticket,
    TicketChange,
    parse_ticket_code,
    ticket_code,
    validate_issue,
    validate_message,
    validate_priority,
    validate_status,
)
from ticketdesk.queries import desk, export, ticket_table
from ticketdesk.queries import files as file_reads
from ticketdesk.queries import tickets as ticket_reads

# The view types callers pass in (pages import them from here, never from the queries).
from ticketdesk.queries.ticket_table import PageAnchor as PageAnchor
from ticketdesk.queries.ticket_table import Sort as Sort
from ticketdesk.queries.ticket_table import SortColumn as SortColumn
from ticketdesk.queries.ticket_table import TicketFilter as TicketFilter
from ticketdesk.services.files import file_store, store_uploads
from ticketdesk.store import accounts as account_store
from ticketdesk.store import mail as mail_store
from ticketdesk.store import targets as target_store
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import read, run_transaction
from ticketdesk.store.files import BlobStore

T = TypeVar("T")


class StaleTicket(TicketDeskError):
    """The ticket changed since the caller read it; nothing was written."""

    def __init__(self, current: Ticket, since: list[Change]) -> None:
        what = "; ".join(f"{c.describe()} at {c.occurred_at:%H:%M:%S} UTC" for c in since)
        super().__init__(
            f"{current.code} was changed after you loaded it ({what or 'by someone else'}). "
            f"It now reads: status {current.status}, priority {current.priority}. "
            "Your edit was not applied; the table shows the current values."
        )
        self.current = current
        self.since = since


def create_ticket(
    engine: Engine,
    by: Account,
    issue: str,
    priority: str,
    now: datetime,
    files: Sequence[Upload] = (),
    store: BlobStore | None = None,
    *,
    mail: MailOrigin | None = None,
) -> Ticket:
    """File a ticket as `by` (its requester), with `files` attached to the ticket itself.
    The files' blobs are written first (default store: file_store), then recorded with the
    ticket in one transaction. `mail`: it came by mail, which is kept with it (in the same
    transaction; DuplicateMail if that Message-ID was received before)."""
    require(by, Action.FILE_TICKET)
    text = validate_issue(issue)
    level = validate_priority(priority)
    stored = store_uploads(engine, store or file_store(engine), files) if files else ()
    outcome = rules.file_ticket(text, level, now, by.name, by.id, stored)

    def work(conn: Connection) -> Ticket:
        inbox_id = None if mail is None else _keep_mail(conn, mail, InboundOutcome.FILED)
        saved = ticket_store.save(conn, None, outcome, by, now)
        assert saved is not None  # a new ticket has no version to be stale against
        if inbox_id is not None:
            mail_store.link_inbound(conn, inbox_id, saved.id, None)
        return saved

    return _once_per_mail(engine, work, mail)


def _keep_mail(conn: Connection, mail: MailOrigin, outcome: InboundOutcome) -> int:
    """Store a received mail before what it causes: a second copy of it (a crash between
    storing and moving it in the mailbox, two fetchers) stops here, before anything else is
    written. Mail received before any ticket of it exists is linked after the save, so the
    ticket's thread lists it before the notifications it causes."""
    if mail_store.known_message(conn, mail.message_id) is not None:
        raise DuplicateMail(f"{mail.message_id} was received before; stored once.")
    return mail_store.insert_inbound(conn, mail, outcome)


def _once_per_mail(engine: Engine, work: Callable[[Connection], T], mail: MailOrigin | None) -> T:
    """run_transaction; two fetchers storing the same mail at once on PostgreSQL: the second
    one's insert breaks the unique Message-ID, its whole transaction rolls back."""
    try:
        return run_transaction(engine, work)
    except IntegrityError:
        if mail is not None and read(
            engine, lambda conn: mail_store.known_message(conn, mail.message_id)
        ):
            raise DuplicateMail(f"{mail.message_id} was received before; stored once.") from None
        raise


def _ticket_for(conn: Connection, by: Account, ticket_id: int, action: Action) -> Ticket:
    """The ticket, if `by` may do `action` on it (requesters: only their own)."""
    current = ticket_store.get_ticket(
        conn, ticket_id, for_update=action is not Action.VIEW_OWN_TICKET
    )
    if current is None and by.is_staff:
        raise TicketNotFound(f"{ticket_code(ticket_id)} does not exist.")
    require_ticket_access(by, None if current is None else current.requester_id, action)
    assert current is not None
    return current


def update_ticket(
    engine: Engine,
    by: Account,
    ticket_id: int,
    change: TicketChange,
    now: datetime,
    expected_version: int | None = None,
) -> Ticket:
    """Apply `change` to one ticket, with its events, in one transaction (agents and admins).

    With `expected_version`, the change is refused (StaleTicket) if the ticket has moved on.
    A new assignee must be the name of an active agent or admin; the assignee the ticket has
    already is never checked again (they may have been deactivated since)."""
    require(by, Action.EDIT_TICKET)
    checked = TicketChange(
        status=None if change.status is None else validate_status(change.status),
        priority=None if change.priority is None else validate_priority(change.priority),
        issue=None if change.issue is None else validate_issue(change.issue),
        assignee=change.assignee,
        unassign=change.unassign,
    )

    def work(conn: Connection) -> Ticket:
        current = ticket_store.get_ticket(conn, ticket_id)
        if current is None:
            raise TicketNotFound(f"{ticket_code(ticket_id)} does not exist.")
        # Only a new assignee is checked: a ticket may stay with someone deactivated since.
        if (
            checked.assignee is not None
            and checked.assignee != current.assignee
            and checked.assignee not in {a.name for a in account_store.staff(conn)}
        ):
            raise ValidationError(f"{checked.assignee[:100]!r} is not an active agent.")
        if expected_version is not None and current.version != expected_version:
            raise StaleTicket(current, ticket_reads.events_for(conn, ticket_id, expected_version))
        outcome = rules.change_ticket(current, checked, now)
        updated = ticket_store.save(conn, current, outcome, by, now)
        if updated is None:  # changed between our read and our write
            latest = ticket_store.get_ticket(conn, ticket_id)
            assert latest is not None
            raise StaleTicket(latest, ticket_reads.events_for(conn, ticket_id, current.version))
        return updated

    return run_transaction(engine, work)


_MESSAGE_ACTION = {
    MessageKind.REPLY: Action.REPLY,
    MessageKind.NOTE: Action.ADD_NOTE,
    MessageKind.MESSAGE: Action.WRITE_TO_OWN_TICKET,
}


def add_message(
    engine: Engine,
    by: Account,
    ticket_id: int,
    kind: str,
    body: str,
    now: datetime,
    files: Sequence[Upload] = (),
    store: BlobStore | None = None,
    *,
    mail: MailOrigin | None = None,
) -> Ticket:
    """Add a public reply or an internal note (agents), or a requester's message (on their
    own ticket), with `files` attached to it (blobs written first, then recorded with the
    message). Messages never conflict with each other or with edits. `mail`: it came by
    mail, kept with the message (DuplicateMail if that Message-ID was received before)."""
    text = validate_message(body)
    try:
        what = MessageKind(kind)
    except ValueError:
        raise ValidationError(f"{kind!r} is not a kind of message.") from None
    action = _MESSAGE_ACTION[what]
    require(by, action)
    stored = store_uploads(engine, store or file_store(engine), files) if files else ()

    def work(conn: Connection) -> Ticket:
        current = _ticket_for(conn, by, ticket_id, action)
        if what is MessageKind.MESSAGE and current.requester_id != by.id:
            raise PermissionDenied("Only the person who filed a ticket writes as its requester.")
        outcome = rules.add_message(current, what, text, now, stored)
        inbox_id = None
        if mail is not None:
            inbox_id = _keep_mail(conn, mail, InboundOutcome.REPLY)
            mail_store.link_inbound(conn, inbox_id, ticket_id, None)
        saved = ticket_store.save(conn, current, outcome, by, now)
        assert saved is not None  # `current` is locked (for_update) in this transaction
        if inbox_id is not None:
            message_id = mail_store.latest_message_of(conn, ticket_id)
            mail_store.link_inbound(conn, inbox_id, ticket_id, message_id)
        return saved

    return _once_per_mail(engine, work, mail)


@dataclass(frozen=True)
class TicketDetail:
    ticket: Ticket
    messages: list[Message]
    history: list[Change]
    revision: int
    targets: dict[Priority, SlaTarget]
    attachments: list[Attachment]  # those `by` may see; message_id None: the ticket's own

    def files_of(self, message_id: int | None) -> list[Attachment]:
        """The files of one message (None: of the ticket itself)."""
        return [a for a in self.attachments if a.message_id == message_id]


def ticket_detail(engine: Engine, by: Account, code: str) -> TicketDetail:
    """Everything the detail view shows for `TICKET-<n>`, from one snapshot. Requesters see
    only their own tickets, and never internal notes: nor when the last one was written (their
    ticket's `updated_at` is the time of the latest change they may see). The ticket's
    `version`, which internal notes move too, is for staff only (the optimistic check of
    their edits); it is not to be shown to anyone who may not read notes."""
    ticket_id = parse_ticket_code(code)
    include_notes = by.may(Action.READ_NOTES)

    def work(conn: Connection) -> TicketDetail:
        ticket = _ticket_for(conn, by, ticket_id, Action.VIEW_OWN_TICKET)
        history = ticket_reads.events_for(conn, ticket_id)
        if not include_notes:
            history = [
                c
                for c in history
                if c.kind is not EventKind.NOTE
                and not (c.kind is EventKind.FILE_REMOVED and c.new_value == MessageKind.NOTE)
            ]
            seen = max((c.occurred_at for c in history), default=ticket.created_at)
            ticket = replace(ticket, updated_at=seen)
        return TicketDetail(
            ticket,
            ticket_reads.messages_for(conn, ticket_id, include_notes),
            history,
            desk.current_revision(conn),
            target_store.load_targets(conn),
            file_reads.attachments_for(conn, ticket_id, include_notes),
        )

    return read(engine, work)


def visible_to(by: Account, flt: TicketFilter) -> TicketFilter:
    """`flt` narrowed to what `by` may see: a requester's own tickets only."""
    if by.may(Action.VIEW_ANY_TICKET):
        return flt
    require(by, Action.VIEW_OWN_TICKET)
    return replace(flt, requester_id=by.id)


def list_tickets(engine: Engine, by: Account) -> list[Ticket]:
    """Every ticket `by` may see, newest first (small desks and tests; the UI pages)."""
    if by.may(Action.VIEW_ANY_TICKET):
        return read(engine, ticket_reads.list_tickets)
    return list(export_tickets(engine, by, TicketFilter(), Sort()))


def ticket_history(engine: Engine, by: Account, ticket_id: int) -> list[Change]:
    require(by, Action.VIEW_ANY_TICKET)
    return read(engine, lambda conn: ticket_reads.events_for(conn, ticket_id))


def desk_revision(engine: Engine) -> int:
    """A number that goes up with every change anyone makes: cheap to poll."""
    return read(engine, desk.current_revision)


PAGE_SIZE = 50


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    page: int
    pages: int  # by the count; with a capped count at least this many (and at least `page`)
    matching: int
    matching_is_lower_bound: bool
    anchor: PageAnchor | None
    revision: int  # the desk revision this page was read at
    targets: dict[Priority, SlaTarget]  # to show each row's time left or breach
    more: bool = False  # whether a matching ticket follows this page (the API's next_cursor)


def ticket_page(
    engine: Engine,
    by: Account,
    flt: TicketFilter,
    sort: Sort,
    page: int = 1,
    anchor: PageAnchor | None = None,
    size: int = PAGE_SIZE,
    cap: int = ticket_table.SEARCH_COUNT_CAP,
) -> TicketPage:
    """One page of the ticket table, filtered, searched and sorted in SQL. Pass the `anchor`
    of the page shown before to step from it cheaply; a page past the end shows the last,
    except past a capped count (read_page). Requesters get only their own tickets."""
    flt = visible_to(by, flt)
    return read(engine, lambda conn: read_page(conn, flt, sort, page, anchor, size, cap))


def read_page(
    conn: Connection,
    flt: TicketFilter,
    sort: Sort,
    page: int,
    anchor: PageAnchor | None,
    size: int = PAGE_SIZE,
    cap: int = ticket_table.SEARCH_COUNT_CAP,
) -> TicketPage:
    """ticket_page's read, of a filter already narrowed to what its viewer may see (the live
    view reads a shown page again with it, services.live).

    Matches are counted up to `cap`. Past a capped count, the page after the anchor's is read
    from the anchor rather than shown as the last page of the count: following pages one
    after the other (the API's cursors) reaches every match, while a page jumped to keeps to
    the count (the table offers no more). Whether a ticket follows the page (`more`) comes
    from the exact count or, once a page reaches past a capped one, from one more row read
    with it; the first pages cost what they did."""
    matching, capped = ticket_table.count(conn, flt, cap)
    pages = max(1, -(-matching // size))
    past_count = capped and anchor is not None and page == anchor.page + 1 and page > pages
    shown = page if past_count else min(max(page, 1), pages)
    usable = anchor if anchor is not None and (past_count or anchor.page <= pages) else None
    # With more than `matching` matches, a page ending within them surely has one after it.
    peek = capped and shown * size > matching
    rows, new_anchor, follows = ticket_table.fetch_page(
        conn, flt, sort, shown, size, None if capped else matching, usable, peek=peek
    )
    # A capped count's full page not peeked at (or read backward) is followed by another.
    more = len(rows) == size and follows is not False if capped else shown < pages
    at_revision = desk.current_revision(conn)
    targets = target_store.load_targets(conn)
    return TicketPage(
        rows, shown, max(pages, shown), matching, capped, new_anchor, at_revision, targets, more
    )


def export_tickets(engine: Engine, by: Account, flt: TicketFilter, sort: Sort) -> Iterator[Ticket]:
    """Every ticket of the filtered view that `by` may see, streamed inside one read
    transaction. Who may see what is checked now, not when the first row is read."""
    return _stream_rows(engine, visible_to(by, flt), sort)


def export_query(flt: TicketFilter, sort: Sort) -> dict[str, str]:
    """The URL parameters of /export.csv that export the view `flt`, `sort`."""
    return export.to_query(flt, sort)


def _stream_rows(engine: Engine, flt: TicketFilter, sort: Sort) -> Iterator[Ticket]:
    with engine.connect() as conn, conn.begin():  # a deferred (read) transaction
        yield from ticket_table.export_rows(conn, flt, sort)


def export_with_files(
    engine: Engine, by: Account, flt: TicketFilter, sort: Sort
) -> Iterator[export.ExportRow]:
    """`export_tickets` with each ticket's files (names and links, not content): those `by`
    may see, never a requester the files of internal notes. Files are read per batch of
    export.ROWS_PER_CHUNK tickets, in the same read transaction as the tickets."""
    return _stream_rows_with_files(
        engine, visible_to(by, flt), sort, include_notes=by.may(Action.READ_NOTES)
    )


def _stream_rows_with_files(
    engine: Engine, flt: TicketFilter, sort: Sort, include_notes: bool
) -> Iterator[export.ExportRow]:
    with engine.connect() as conn, conn.begin():
        batch: list[Ticket] = []

        def flush() -> Iterator[export.ExportRow]:
            files = file_reads.attachments_of_tickets(conn, [t.id for t in batch], include_notes)
            for t in batch:
                yield t, files.get(t.id, [])
            batch.clear()

        for ticket in ticket_table.export_rows(conn, flt, sort):
            batch.append(ticket)
            if len(batch) == export.ROWS_PER_CHUNK:
                yield from flush()
        yield from flush()


def sla_of(ticket: Ticket, targets: dict[Priority, SlaTarget], now: datetime) -> SlaState:
    """Where `ticket` stands against its priority's targets at `now`."""
    return sla.sla_state(
        ticket.priority,
        ticket.created_at,
        ticket.first_response_at,
        ticket.closed_at,
        ticket.status,
        targets,
        now,
    )


def sla_headline(state: SlaState) -> str:
    """The clock that matters now, in a few words: the first response until there is one,
    then the resolution."""
    first, resolution = state.first_response, state.resolution
    if first.done_at is None:
        return f"Response {first.label}"
    if resolution.done_at is None:
        return f"Resolve {resolution.label}"
    return f"Resolved: {resolution.label}"
