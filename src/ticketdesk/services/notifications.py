"""Notification preferences ("Your account") and the desk's mail settings (the admin's Outbox
page): plain values in and out, one transaction each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine

from ticketdesk.domain.accounts import Account, Action, require
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.notifications import NoticeKind, UnassignedPolicy, kinds_for
from ticketdesk.store import mail as mail_store
from ticketdesk.store import notifications as notification_store
from ticketdesk.store.db import read, run_transaction


class UnknownSenders(StrEnum):
    """What a mail from an address without an account does."""

    CREATE = "create"  # a requester account without a password, then the ticket
    REFUSE = "refuse"  # the rejected-mail list, and one polite answer


UNKNOWN_SENDERS_SETTING = "unknown_senders"


@dataclass(frozen=True)
class MailSettings:
    unknown_senders: UnknownSenders
    notify_unassigned: UnassignedPolicy


def preferences(engine: Engine, by: Account) -> dict[NoticeKind, bool]:
    """Which notifications `by` gets (True) for each kind their role can receive."""
    off = read(engine, lambda conn: mail_store.optouts(conn, [by.id])).get(by.id, frozenset())
    return {kind: kind not in off for kind in kinds_for(by.is_staff)}


def set_preferences(engine: Engine, by: Account, wanted: Mapping[NoticeKind, bool]) -> None:
    """Switch `by`'s own notifications on and off (kinds not given stay as they are)."""
    allowed = set(kinds_for(by.is_staff))
    for kind in wanted:
        if kind not in allowed:
            raise ValidationError(f"{kind.value!r} is not a notification your account gets.")

    def work(conn: Connection) -> None:
        current = mail_store.optouts(conn, [by.id]).get(by.id, frozenset())
        off = {k for k in current if k not in wanted} | {k for k, on in wanted.items() if not on}
        mail_store.set_optouts(conn, by.id, off)

    run_transaction(engine, work)


def _settings(conn: Connection) -> MailSettings:
    stored = mail_store.get_setting(conn, UNKNOWN_SENDERS_SETTING)
    try:
        unknown = UnknownSenders(stored) if stored else UnknownSenders.CREATE
    except ValueError:
        unknown = UnknownSenders.CREATE
    return MailSettings(unknown, notification_store.unassigned_policy(conn))


def mail_settings(engine: Engine) -> MailSettings:
    """The settings as stored (the intake and the Outbox page read them)."""
    return read(engine, _settings)


def save_mail_settings(engine: Engine, by: Account, settings: MailSettings) -> MailSettings:
    require(by, Action.CHANGE_SETTINGS)

    def work(conn: Connection) -> MailSettings:
        mail_store.set_setting(conn, UNKNOWN_SENDERS_SETTING, settings.unknown_senders.value)
        mail_store.set_setting(
            conn, notification_store.UNASSIGNED_SETTING, settings.notify_unassigned.value
        )
        return _settings(conn)

    return run_transaction(engine, work)
