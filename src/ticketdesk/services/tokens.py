"""API tokens: made on "Your account" (shown once; only a SHA-256 is stored), with a name, an
expiry and an optional read-only scope; revoked by their owner or any admin. The API finds
the acting account through `token_account`, and takes each request from the token's shared
rate-limit bucket through `take_request` (on PostgreSQL; domain/rate_limit.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ticketdesk.domain.accounts import Account, Action, PermissionDenied, SessionEnded
from ticketdesk.domain.errors import ValidationError
from ticketdesk.services.accounts import token_hash
from ticketdesk.store import rate_limits
from ticketdesk.store import tokens as store
from ticketdesk.store.db import read, run_transaction
from ticketdesk.store.tokens import TokenInfo as TokenInfo

TOKEN_PREFIX = "tdk_"  # noqa: S105 (a prefix that tells what a token is for)
MAX_DAYS = 366
NAME_MAX_CHARS = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""last_used_at is written at most once a minute per token: reads stay reads."""


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str  # shown once; only its hash is stored


@dataclass(frozen=True)
class TokenUse:
    account: Account
    token_id: int
    read_only: bool


def create_token(
    engine: Engine, by: Account, name: str, days: int, read_only: bool, now: datetime
) -> NewToken:
    """A new token for `by`'s own account, valid for `days` days."""
    label = " ".join(name.split())
    if not label:
        raise ValidationError("Give the token a name (what uses it), e.g. “monitoring”.")
    if len(label) > NAME_MAX_CHARS:
        raise ValidationError(f"A token's name has at most {NAME_MAX_CHARS} characters.")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"A token lasts 1 to {MAX_DAYS} days.")
    if not by.active:
        raise PermissionDenied("An inactive account cannot make tokens.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def work(conn: Connection) -> NewToken:
        token_id = store.insert_token(
            conn, token_hash(token), by.id, label, read_only, now, now + timedelta(days=days)
        )
        info = store.token_by_id(conn, token_id)
        assert info is not None
        return NewToken(info, token)

    return run_transaction(engine, work)


def my_tokens(engine: Engine, by: Account) -> list[TokenInfo]:
    return read(engine, lambda conn: store.tokens(conn, by.id))


def all_tokens(engine: Engine, by: Account) -> list[TokenInfo]:
    """Everyone's tokens (admins)."""
    if not by.may(Action.MANAGE_ACCOUNTS):
        raise PermissionDenied(f"Your account ({by.role}) may not {Action.MANAGE_ACCOUNTS}.")
    return read(engine, lambda conn: store.tokens(conn, None))


def revoke_token(engine: Engine, by: Account, token_id: int) -> TokenInfo:
    """Revoke a token: its owner's own, or anyone's by an admin. Effective at once."""

    def work(conn: Connection) -> TokenInfo:
        info = store.token_by_id(conn, token_id)
        if info is None or (info.account_id != by.id and not by.may(Action.MANAGE_ACCOUNTS)):
            raise ValidationError("That token does not exist (any more).")
        store.delete_token(conn, token_id)
        return info

    return run_transaction(engine, work)


def token_account(engine: Engine, token: str | None, now: datetime) -> TokenUse:
    """The account behind an API token, or SessionEnded. Notes the time of use."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise SessionEnded("Send an API token: Authorization: Bearer tdk_…")
    found = read(engine, lambda conn: store.token_account(conn, token_hash(token), now))
    if found is None:
        raise SessionEnded("That API token is unknown, expired or revoked.")
    account, token_id, read_only, last_used = found
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        run_transaction(engine, lambda conn: store.touch(conn, token_id, now))
    return TokenUse(account, token_id, read_only)


def take_request(engine: Engine, token_id: int, per_minute: int, at: float) -> float:
    """One request of the token from its bucket in the database, shared by every app server:
    0 when it may go, else the seconds until it could. `at` is the wall clock (seconds since
    the epoch), which the servers share."""

    def work(conn: Connection) -> float:
        rate_limits.relax_commit(conn)
        return rate_limits.take(conn, token_id, per_minute, at)

    try:
        return run_transaction(engine, work)
    except IntegrityError:  # revoked since token_account found it: its bucket cannot be made
        raise SessionEnded("That API token is unknown, expired or revoked.") from None
