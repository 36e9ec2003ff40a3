"""SQL for API tokens. Every function takes an open connection; the caller (a service) owns
the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ticketdesk.domain.accounts import Account, Role
from ticketdesk.store.schema import accounts, api_tokens


@dataclass(frozen=True)
class TokenInfo:
    """A token as its owner and admins see it (never the token itself)."""

    id: int
    account_id: int
    account_name: str
    name: str
    read_only: bool
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.account_id,
    accounts.c.name.label("account_name"),
    api_tokens.c.name,
    api_tokens.c.read_only,
    api_tokens.c.created_at,
    api_tokens.c.expires_at,
    api_tokens.c.last_used_at,
)


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.account_id,
        row.account_name,
        row.name,
        bool(row.read_only),
        row.created_at,
        row.expires_at,
        row.last_used_at,
    )


def insert_token(
    conn: Connection,
    token_hash: str,
    account_id: int,
    name: str,
    read_only: bool,
    now: datetime,
    expires_at: datetime,
) -> int:
    return int(
        conn.execute(
            insert(api_tokens)
            .values(
                token_hash=token_hash,
                account_id=account_id,
                name=name,
                read_only=read_only,
                created_at=now,
                expires_at=expires_at,
            )
            .returning(api_tokens.c.id)
        ).scalar_one()
    )


def tokens(conn: Connection, account_id: int | None) -> list[TokenInfo]:
    """One account's tokens (None: everyone's), newest first."""
    query = select(*_COLUMNS).select_from(api_tokens.join(accounts))
    if account_id is not None:
        query = query.where(api_tokens.c.account_id == account_id)
    return [_info(row) for row in conn.execute(query.order_by(api_tokens.c.id.desc()))]


def token_by_id(conn: Connection, token_id: int) -> TokenInfo | None:
    query = select(*_COLUMNS).select_from(api_tokens.join(accounts))
    row = conn.execute(query.where(api_tokens.c.id == token_id)).first()
    return None if row is None else _info(row)


def delete_token(conn: Connection, token_id: int) -> None:
    conn.execute(delete(api_tokens).where(api_tokens.c.id == token_id))


def token_account(
    conn: Connection, token_hash: str, now: datetime
) -> tuple[Account, int, bool, datetime | None] | None:
    """The active account behind an unexpired token: (account, token id, read-only, last
    used), in one indexed read."""
    query = (
        select(
            accounts.c.id,
            accounts.c.email,
            accounts.c.name,
            accounts.c.role,
            accounts.c.active,
            api_tokens.c.id.label("token_id"),
            api_tokens.c.read_only,
            api_tokens.c.last_used_at,
        )
        .select_from(api_tokens.join(accounts))
        .where(
            api_tokens.c.token_hash == token_hash,
            api_tokens.c.expires_at > now,
            accounts.c.active.is_(True),
        )
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    account = Account(row.id, row.email, row.name, Role(row.role), bool(row.active))
    return account, row.token_id, bool(row.read_only), row.last_used_at


def touch(conn: Connection, token_id: int, now: datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))
