"""Domain vocabulary and validation: statuses, priorities, ticket codes, issue text rules."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from ticketdesk.domain.errors import ValidationError


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
"""Longest issue description accepted, in characters (documented in the README)."""

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
