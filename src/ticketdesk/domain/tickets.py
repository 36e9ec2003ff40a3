"""Domain vocabulary and validation: statuses, priorities, ticket codes, issue text rules."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from enum import StrEnum

from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.files import NewAttachment


class Status(StrEnum):
    OPEN = "Open"
    IN_PROGRESS = "In Progress"
    CLOSED = "Closed"


class Priority(StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"


class EventKind(StrEnum):
    CREATED = "created"
    STATUS = "status"
    PRIORITY = "priority"
    ISSUE = "issue"
    ASSIGNEE = "assignee"
    REPLY = "reply"  # a public reply by an agent
    NOTE = "note"  # an internal note, never shown to requesters
    MESSAGE = "message"  # a message from the requester
    FILE_REMOVED = "file_removed"  # an admin removed an attachment: old_value is its name


class MessageKind(StrEnum):
    REPLY = "reply"
    NOTE = "note"
    MESSAGE = "message"


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
PRIORITIES: tuple[str, ...] = tuple(p.value for p in Priority)
# Sort ranks stored beside the names, so "sort by priority" means High before Low.
STATUS_RANK = {status: rank for rank, status in enumerate(Status, start=1)}
PRIORITY_RANK = {priority: rank for rank, priority in enumerate(Priority, start=1)}

ISSUE_MAX_CHARS = 5000
"""Longest issue description accepted, in characters (documented in docs/usage.md)."""

TICKET_CODE_PREFIX = "TICKET-"
_TICKET_CODE = re.compile(r"^TICKET-([1-9][0-9]{0,17})$")
# Control characters other than tab, newline and carriage return are refused: they are
# invisible, break exports and are never part of a real description.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def day_start(day: date) -> datetime:
    """00:00 UTC of the UTC day `day`: periods are runs of whole UTC days."""
    return datetime.combine(day, time(), UTC)


def ticket_code(ticket_id: int) -> str:
    return f"{TICKET_CODE_PREFIX}{ticket_id}"


def parse_ticket_code(code: str) -> int:
    """`TICKET-42` -> 42; anything else is a ValidationError."""
    match = _TICKET_CODE.match(code.strip())
    if not match:
        raise ValidationError(f"{code!r} is not a ticket ID; IDs look like TICKET-1042.")
    return int(match.group(1))


MESSAGE_MAX_CHARS = 20_000
"""Longest reply or note accepted, in characters."""


def validate_issue(text: str) -> str:
    """Return the issue text to store, exactly as typed, or raise ValidationError."""
    return _checked_text(
        text, ISSUE_MAX_CHARS, "description", "Describe the issue: the description cannot be empty."
    )


def validate_message(text: str) -> str:
    """Return a reply or note to store, exactly as typed, or raise ValidationError."""
    return _checked_text(
        text, MESSAGE_MAX_CHARS, "message", "Write something: the message is empty."
    )


def _checked_text(text: str, limit: int, what: str, empty: str) -> str:
    if not isinstance(text, str):
        raise ValidationError(f"The {what} must be text.")
    if not text.strip():
        raise ValidationError(empty)
    if len(text) > limit:
        raise ValidationError(
            f"The {what} is {len(text):,} characters long; the limit is "
            f"{limit:,}. Shorten it and submit again."
        )
    for ch in text:
        if ch in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            raise ValidationError(
                f"The {what} contains an invisible control character (U+{ord(ch):04X}); "
                "remove it and submit again."
            )
        if category == "Cs":
            raise ValidationError(
                f"The {what} contains an invalid character (a lone UTF-16 surrogate)."
            )
    return text


def validate_status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a status; choose one of {', '.join(STATUSES)}."
        ) from None


def validate_priority(value: str) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a priority; choose one of {', '.join(PRIORITIES)}."
        ) from None


@dataclass(frozen=True)
class Ticket:
    id: int
    issue: str
    status: Status
    priority: Priority
    created_at: datetime
    updated_at: datetime
    version: int
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    requester: str | None = None
    assignee: str | None = None
    requester_id: int | None = None  # the account that filed it

    @property
    def code(self) -> str:
        return ticket_code(self.id)


@dataclass(frozen=True)
class Change:
    """One recorded change of a ticket, as the history shows it."""

    occurred_at: datetime
    kind: EventKind
    old_value: str | None
    new_value: str | None
    actor: str | None

    @property
    def is_message(self) -> bool:
        return self.kind in (EventKind.REPLY, EventKind.NOTE, EventKind.MESSAGE)

    def describe(self) -> str:
        who = self.actor or "someone"
        if self.kind is EventKind.CREATED:
            return f"{who} filed it with priority {self.new_value}"
        if self.kind is EventKind.ISSUE:
            return f"{who} edited the description"
        if self.kind is EventKind.REPLY:
            return f"{who} replied"
        if self.kind is EventKind.NOTE:
            return f"{who} added an internal note"
        if self.kind is EventKind.MESSAGE:
            return f"{who} (requester) wrote"
        if self.kind is EventKind.FILE_REMOVED:
            return f"{who} removed the file {self.old_value}"
        if self.kind is EventKind.ASSIGNEE:
            old, new = self.old_value or "nobody", self.new_value or "nobody"
            return f"{who} reassigned it from {old} to {new}"
        return f"{who} changed the {self.kind.value} from {self.old_value} to {self.new_value}"


@dataclass(frozen=True)
class Message:
    """A reply, an internal note or a requester's message on a ticket."""

    id: int
    created_at: datetime
    author: str | None
    kind: MessageKind
    body: str

    @property
    def internal(self) -> bool:
        return self.kind is MessageKind.NOTE


@dataclass(frozen=True)
class TicketChange:
    """The fields an agent changed on one ticket; None means unchanged."""

    status: str | None = None
    priority: str | None = None
    issue: str | None = None
    assignee: str | None = None
    unassign: bool = False  # assignee None means unchanged; this clears it

    def is_empty(self) -> bool:
        fields = (self.status, self.priority, self.issue, self.assignee)
        return all(f is None for f in fields) and not self.unassign


# The life of a ticket: pure functions from the ticket as it is, the change and `now` to the
# ticket after it and the events it produces. store.tickets.save writes what they return;
# nothing else decides a first response, a close, a reopen or a version.


@dataclass(frozen=True)
class NewEvent:
    """One event a change produces; the store stamps the ticket, time, actor and version.
    A message's event gets the stored message's ID as its new value."""

    kind: EventKind
    old_value: str | None = None
    new_value: str | None = None


@dataclass(frozen=True)
class NewMessage:
    kind: MessageKind
    body: str


@dataclass(frozen=True)
class Outcome:
    """The ticket after a change, and what the change records. No events: nothing changed."""

    ticket: Ticket
    events: tuple[NewEvent, ...] = ()
    message: NewMessage | None = None
    # Files recorded with the message (or, without one, with the new ticket itself), and
    # the IDs of attachment rows this change removes.
    attachments: tuple[NewAttachment, ...] = ()
    removed_files: tuple[int, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.events)


MESSAGE_EVENT = {
    MessageKind.REPLY: EventKind.REPLY,
    MessageKind.NOTE: EventKind.NOTE,
    MessageKind.MESSAGE: EventKind.MESSAGE,
}


def file_ticket(
    issue: str,
    priority: Priority,
    now: datetime,
    requester: str | None = None,
    requester_id: int | None = None,
    attachments: tuple[NewAttachment, ...] = (),
) -> Outcome:
    """A new Open ticket (its ID is 0 until it is stored) and its `created` event; its files
    belong to the ticket itself (its description), not to a message."""
    ticket = Ticket(
        0,
        issue,
        Status.OPEN,
        priority,
        now,
        now,
        1,
        requester=requester,
        requester_id=requester_id,
    )
    return Outcome(
        ticket, (NewEvent(EventKind.CREATED, None, priority.value),), attachments=attachments
    )


def change_ticket(current: Ticket, change: TicketChange, now: datetime) -> Outcome:
    """`current` after an agent's `change`, with one event per field that really changed.

    Leaving Open for the first time is the first response (when no reply came before);
    closing sets `closed_at`, any other status clears it (a reopened ticket's resolution is
    no longer counted). The version goes up by one for the whole change."""
    status = Status(change.status) if change.status is not None else current.status
    priority = Priority(change.priority) if change.priority is not None else current.priority
    issue = change.issue if change.issue is not None else current.issue
    assignee = None if change.unassign else (change.assignee or current.assignee)
    events: list[NewEvent] = []
    first_response_at, closed_at = current.first_response_at, current.closed_at
    if status is not current.status:
        events.append(NewEvent(EventKind.STATUS, current.status.value, status.value))
        if first_response_at is None and current.status is Status.OPEN:
            first_response_at = now
        closed_at = now if status is Status.CLOSED else None
    if priority is not current.priority:
        events.append(NewEvent(EventKind.PRIORITY, current.priority.value, priority.value))
    if issue != current.issue:
        events.append(NewEvent(EventKind.ISSUE, current.issue, issue))
    if assignee != current.assignee:
        events.append(NewEvent(EventKind.ASSIGNEE, current.assignee, assignee))
    if not events:
        return Outcome(current)
    after = replace(
        current,
        issue=issue,
        status=status,
        priority=priority,
        updated_at=now,
        version=current.version + 1,
        first_response_at=first_response_at,
        closed_at=closed_at,
        assignee=assignee,
    )
    return Outcome(after, tuple(events))


def add_message(
    current: Ticket,
    kind: MessageKind,
    body: str,
    now: datetime,
    attachments: tuple[NewAttachment, ...] = (),
) -> Outcome:
    """`current` after a message: the first public reply is its first response if nothing
    answered it before; notes and requesters' messages change only the version and time."""
    answered = kind is MessageKind.REPLY and current.first_response_at is None
    after = replace(
        current,
        updated_at=now,
        version=current.version + 1,
        first_response_at=now if answered else current.first_response_at,
    )
    return Outcome(after, (NewEvent(MESSAGE_EVENT[kind]),), NewMessage(kind, body), attachments)


def remove_file(current: Ticket, file_id: int, name: str, internal: bool) -> Outcome:
    """`current` after an admin removed one of its files: the history says who removed which
    name (the event's new value "note" marks a file of an internal note, which requesters'
    histories leave out). The version moves (open pages redraw); the ticket's time does not:
    nobody answered or asked anything."""
    after = replace(current, version=current.version + 1)
    event = NewEvent(EventKind.FILE_REMOVED, name, MessageKind.NOTE.value if internal else None)
    return Outcome(after, (event,), removed_files=(file_id,))
