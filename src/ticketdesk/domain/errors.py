"""The errors a user may see: each message is meant for people."""

from __future__ import annotations


class TicketDeskError(Exception):
    """Base of the errors a user may see; the message is meant for people."""


class ValidationError(TicketDeskError):
    """Input refused; nothing was stored."""


class TicketNotFound(TicketDeskError):
    """The ticket named does not exist."""


class DatabaseUnavailable(TicketDeskError):
    """The database cannot be reached right now."""


class DeskBusy(TicketDeskError):
    """Other changes kept conflicting with this one; nothing was written."""


class FileNotFound(TicketDeskError):
    """No such file, or not one the asker may read (the same answer for both)."""


class FileStoreUnavailable(TicketDeskError):
    """The file store (a directory or an S3 bucket) cannot be written right now; nothing was
    recorded."""
