"""Who is acting: accounts, their roles, and what each role may do (the authorisation policy
the services enforce). No SQL here."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from ticketdesk.domain.errors import TicketDeskError, ValidationError


class Role(StrEnum):
    REQUESTER = "requester"  # files tickets; sees and answers only their own
    AGENT = "agent"  # sees and works every ticket
    ADMIN = "admin"  # an agent who also manages accounts and settings


ROLES: tuple[str, ...] = tuple(r.value for r in Role)


class Action(StrEnum):
    """What a person can ask the desk to do; `allowed` says which roles may."""

    FILE_TICKET = "file a ticket"
    VIEW_OWN_TICKET = "view their own tickets"
    VIEW_ANY_TICKET = "view any ticket"
    WRITE_TO_OWN_TICKET = "write to their own ticket"
    EDIT_TICKET = "change a ticket's status, priority, text or assignee"
    REPLY = "reply to a requester"
    ADD_NOTE = "add an internal note"
    READ_NOTES = "read internal notes"
    VIEW_DASHBOARD = "see the dashboard"
    EXPORT_ALL = "export every ticket"
    CHANGE_SETTINGS = "change the SLA targets"
    MANAGE_ACCOUNTS = "manage accounts"
    REMOVE_FILE = "remove a file from a ticket"


_REQUESTER = {
    Action.FILE_TICKET,
    Action.VIEW_OWN_TICKET,
    Action.WRITE_TO_OWN_TICKET,
}
_AGENT = _REQUESTER | {
    Action.VIEW_ANY_TICKET,
    Action.EDIT_TICKET,
    Action.REPLY,
    Action.ADD_NOTE,
    Action.READ_NOTES,
    Action.VIEW_DASHBOARD,
    Action.EXPORT_ALL,
}
_ADMIN = _AGENT | {Action.CHANGE_SETTINGS, Action.MANAGE_ACCOUNTS, Action.REMOVE_FILE}
PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.REQUESTER: frozenset(_REQUESTER),
    Role.AGENT: frozenset(_AGENT),
    Role.ADMIN: frozenset(_ADMIN),
}


class PermissionDenied(TicketDeskError):
    """The signed-in person may not do this; nothing was read or written."""


class SignInRefused(TicketDeskError):
    """Wrong email or password, an inactive account, or too many attempts."""


class SignInThrottled(SignInRefused):
    """Too many failed sign-ins for this email from this address, or from this address: the
    attempt was refused without checking the password."""


class SessionEnded(TicketDeskError):
    """The session cookie is missing, forged, expired, or was ended (sign-out, password
    change, deactivation)."""


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    name: str
    role: Role
    active: bool = True

    def may(self, action: Action) -> bool:
        return self.active and action in PERMISSIONS[self.role]

    @property
    def is_staff(self) -> bool:
        """Agents and admins: they work tickets that are not their own."""
        return self.may(Action.VIEW_ANY_TICKET)


def require(account: Account, action: Action) -> None:
    if not account.may(action):
        raise PermissionDenied(f"Your account ({account.role}) may not {action}.")


def require_ticket_access(account: Account, requester_id: int | None, action: Action) -> None:
    """Staff may `action` on any ticket; a requester only on a ticket they filed. The refusal
    does not say whether the ticket exists."""
    if account.is_staff:
        require(account, action)
        return
    if requester_id != account.id or not account.may(action):
        raise PermissionDenied("That ticket does not exist or is not one of yours.")


EMAIL_MAX_CHARS = 254
NAME_MAX_CHARS = 100
PASSWORD_MIN_CHARS = 12
PASSWORD_MAX_CHARS = 1024  # argon2 takes any length; this only bounds the work per attempt
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_key(email: str) -> str:
    """The form emails are compared in: trimmed and case-folded."""
    return email.strip().casefold()


def validate_email(email: str) -> str:
    value = email.strip()
    if not value:
        raise ValidationError("Enter an email address.")
    if len(value) > EMAIL_MAX_CHARS or not _EMAIL.match(value):
        raise ValidationError(f"{value[:80]!r} is not an email address.")
    return value


def validate_name(name: str) -> str:
    """A person's name as shown in histories: trimmed, 1..NAME_MAX_CHARS, no control
    characters."""
    value = name.strip()
    if not value:
        raise ValidationError("Enter a name.")
    if len(value) > NAME_MAX_CHARS:
        raise ValidationError(f"A name can be at most {NAME_MAX_CHARS} characters long.")
    if any(unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS for ch in value):
        raise ValidationError("The name contains an invisible control character.")
    return value


# Embeddings, overrides and isolates reorder the text around a name in histories and lists.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationError(
            f"{role!r} is not a role; choose one of {', '.join(ROLES)}."
        ) from None


def validate_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARS:
        raise ValidationError(f"A password needs at least {PASSWORD_MIN_CHARS} characters.")
    if len(password) > PASSWORD_MAX_CHARS:
        raise ValidationError(f"A password can be at most {PASSWORD_MAX_CHARS} characters.")
    if password.strip() != password:
        raise ValidationError("A password cannot begin or end with a space.")
    return password
