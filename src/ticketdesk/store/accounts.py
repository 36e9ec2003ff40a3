"""SQL for accounts, sign-in sessions and failed sign-ins. Every function takes an open
connection; the caller (a service) owns the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from ticketdesk.domain.accounts import Account, Role
from ticketdesk.store import changes
from ticketdesk.store.schema import accounts, auth_sessions, signin_failures

_ACCOUNT_COLUMNS = (
    accounts.c.id,
    accounts.c.email,
    accounts.c.name,
    accounts.c.role,
    accounts.c.active,
)


def _account(row: Any) -> Account:
    return Account(row.id, row.email, row.name, Role(row.role), bool(row.active))


def insert_account(
    conn: Connection,
    email: str,
    key: str,
    name: str,
    role: Role,
    password_hash: str | None,
    now: datetime,
) -> Account:
    account_id = conn.execute(
        insert(accounts)
        .values(
            email=email,
            email_key=key,
            name=name,
            role=role.value,
            active=True,
            password_hash=password_hash,
            created_at=now,
        )
        .returning(accounts.c.id)
    ).scalar_one()
    return Account(account_id, email, name, role, True)


def account_by_id(conn: Connection, account_id: int) -> Account | None:
    row = conn.execute(select(*_ACCOUNT_COLUMNS).where(accounts.c.id == account_id)).first()
    return None if row is None else _account(row)


def account_by_email(conn: Connection, key: str) -> tuple[Account, str | None] | None:
    """The account with this email key and its password hash."""
    row = conn.execute(
        select(*_ACCOUNT_COLUMNS, accounts.c.password_hash).where(accounts.c.email_key == key)
    ).first()
    return None if row is None else (_account(row), row.password_hash)


def password_hash_of(conn: Connection, account_id: int) -> str | None:
    query = select(accounts.c.password_hash).where(accounts.c.id == account_id)
    return conn.execute(query).scalar_one_or_none()


def name_taken(conn: Connection, name: str) -> bool:
    """Whether someone has this name in any case. Compared in Python: SQLite's lower() folds
    only ASCII ("ÉLODIE" would pass for new beside "Élodie"). Accounts are people, so a
    desk's full list is small."""
    wanted = name.casefold()
    return any(n.casefold() == wanted for n in conn.execute(select(accounts.c.name)).scalars())


def email_taken(conn: Connection, key: str) -> bool:
    query = select(accounts.c.id).where(accounts.c.email_key == key)
    return conn.execute(query).first() is not None


def any_account(conn: Connection) -> bool:
    return conn.execute(select(accounts.c.id).limit(1)).first() is not None


def list_accounts(conn: Connection) -> list[Account]:
    rows = conn.execute(select(*_ACCOUNT_COLUMNS).order_by(accounts.c.name))
    return [_account(row) for row in rows]


def staff(conn: Connection) -> list[Account]:
    """Active agents and admins, by name: the people tickets can be assigned to."""
    query = (
        select(*_ACCOUNT_COLUMNS)
        .where(accounts.c.active.is_(True), accounts.c.role.in_([Role.AGENT, Role.ADMIN]))
        .order_by(accounts.c.name)
    )
    return [_account(row) for row in conn.execute(query)]


def count_active_admins(conn: Connection) -> int:
    """Active admins, their rows locked until the transaction ends (PostgreSQL), so that two
    admins demoting each other at once cannot both see the other one still there."""
    query = select(accounts.c.id).where(
        accounts.c.role == Role.ADMIN.value, accounts.c.active.is_(True)
    )
    return len(conn.execute(query.with_for_update()).all())


def set_password_hash(conn: Connection, account_id: int, password_hash: str) -> None:
    conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(password_hash=password_hash)
    )


def set_role(conn: Connection, account_id: int, role: Role) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(role=role.value))


def set_active(conn: Connection, account_id: int, active: bool) -> None:
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(active=active))
    if not active:  # its sessions no longer open anything
        changes.announce(conn, changes.SESSIONS)


def insert_session(
    conn: Connection, token_hash: str, account_id: int, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        insert(auth_sessions).values(
            token_hash=token_hash, account_id=account_id, created_at=now, expires_at=expires_at
        )
    )


def session_account(conn: Connection, token_hash: str, now: datetime) -> Account | None:
    """The active account of an unexpired session, in one indexed read."""
    query = (
        select(*_ACCOUNT_COLUMNS)
        .select_from(auth_sessions.join(accounts))
        .where(
            auth_sessions.c.token_hash == token_hash,
            auth_sessions.c.expires_at > now,
            accounts.c.active.is_(True),
        )
    )
    row = conn.execute(query).first()
    return None if row is None else _account(row)


def open_sessions(conn: Connection, token_hashes: list[str], now: datetime) -> dict[str, datetime]:
    """Which of these sessions still open an active account (unexpired), with when each
    expires: one indexed read for every open page of a server."""
    query = (
        select(auth_sessions.c.token_hash, auth_sessions.c.expires_at)
        .select_from(auth_sessions.join(accounts))
        .where(
            auth_sessions.c.token_hash.in_(token_hashes),
            auth_sessions.c.expires_at > now,
            accounts.c.active.is_(True),
        )
    )
    return {row.token_hash: row.expires_at for row in conn.execute(query)}


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(auth_sessions).where(auth_sessions.c.token_hash == token_hash))
    changes.announce(conn, changes.SESSIONS)


def delete_sessions_of(conn: Connection, account_id: int, keep: str | None = None) -> int:
    """End every session of an account (but `keep`, the token hash of the one asking)."""
    query = delete(auth_sessions).where(auth_sessions.c.account_id == account_id)
    if keep is not None:
        query = query.where(auth_sessions.c.token_hash != keep)
    ended = conn.execute(query).rowcount
    if ended:
        changes.announce(conn, changes.SESSIONS)
    return ended


def delete_expired_sessions(conn: Connection, now: datetime) -> None:
    conn.execute(delete(auth_sessions).where(auth_sessions.c.expires_at <= now))


def record_failure(conn: Connection, key: str, address: str, now: datetime) -> None:
    conn.execute(insert(signin_failures).values(email_key=key, address=address, at=now))


def pair_failures(
    conn: Connection, key: str, address: str, since: datetime
) -> tuple[int, datetime | None]:
    """Failed sign-ins of this email from this address since `since`: how many, and the
    latest."""
    f = signin_failures.c
    query = select(func.count(), func.max(f.at)).where(
        f.email_key == key, f.address == address, f.at > since
    )
    row = conn.execute(query).one()
    return int(row[0]), row[1]


def address_failures(conn: Connection, address: str, since: datetime) -> int:
    """Failed sign-ins from this address since `since`, for any email."""
    f = signin_failures.c
    query = select(func.count()).where(f.address == address, f.at > since)
    return int(conn.execute(query).scalar_one())


def nth_latest_failure(conn: Connection, address: str, since: datetime, n: int) -> datetime | None:
    """Of this address's failures since `since`, the `n`-th most recent: once it leaves the
    window, fewer than `n` remain."""
    f = signin_failures.c
    query = select(f.at).where(f.address == address, f.at > since).order_by(f.at.desc())
    return conn.execute(query.offset(n - 1).limit(1)).scalar_one_or_none()


def forget_failures(conn: Connection, key: str, address: str, before: datetime) -> None:
    """Drop this email's failures from this address (after it signed in there) and everyone's
    failures older than `before`."""
    f = signin_failures.c
    this_pair = (f.email_key == key) & (f.address == address)
    conn.execute(delete(signin_failures).where(this_pair | (f.at <= before)))


def delete_failures_of(conn: Connection, key: str) -> int:
    """Drop every failure of this email, from any address; how many there were."""
    query = delete(signin_failures).where(signin_failures.c.email_key == key)
    return conn.execute(query).rowcount
