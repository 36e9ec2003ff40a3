"""Accounts and sign-in, as the web layer, the pages and the command line call them: plain
values in, plain values out, one transaction each. Passwords are hashed with argon2id
(argon2-cffi); sessions are random tokens of which only a SHA-256 is stored. Failed sign-ins
are throttled per email and address, never by locking the account (domain/throttle.py says
how and why)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine

from ticketdesk.domain import throttle
from ticketdesk.domain.accounts import (
    Account,
    Action,
    PermissionDenied,
    Role,
    SessionEnded,
    SignInRefused,
    SignInThrottled,
    email_key,
    require,
    validate_email,
    validate_name,
    validate_password,
    validate_role,
)
from ticketdesk.domain.errors import ValidationError
from ticketdesk.store import accounts as store
from ticketdesk.store.db import read, run_transaction

SESSION_LIFETIME = timedelta(hours=12)
"""How long a sign-in lasts (one working day); sign-out, deactivation and a password change
end it sooner."""

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) parameters
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
WRONG_CREDENTIALS = "That email and password do not match an active account."


def hash_password(password: str) -> str:
    return _hasher.hash(validate_password(password))


def generate_password() -> str:
    """A random password to hand over once (demo accounts, resets): 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class SignIn:
    account: Account
    token: str  # for the session cookie; only its hash is stored
    expires_at: datetime


def _new_session(conn: Connection, account: Account, now: datetime) -> SignIn:
    token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    store.delete_expired_sessions(conn, now)
    store.insert_session(conn, token_hash(token), account.id, now, expires_at)
    return SignIn(account, token, expires_at)


@dataclass(frozen=True)
class _Wait:
    until: datetime
    whole_address: bool  # the address's limit over all emails, not this email's back-off


def _throttled(conn: Connection, key: str, address: str, now: datetime) -> _Wait | None:
    """Whether this email must wait at this address (or the address altogether) before its
    next attempt is checked, and until when."""
    waits = []
    failures, latest = store.pair_failures(conn, key, address, now - throttle.PAIR_WINDOW)
    if latest is not None and latest + throttle.backoff(failures) > now:
        waits.append(_Wait(latest + throttle.backoff(failures), whole_address=False))
    since = now - throttle.ADDRESS_WINDOW
    if store.address_failures(conn, address, since) >= throttle.ADDRESS_LIMIT:
        nth = store.nth_latest_failure(conn, address, since, throttle.ADDRESS_LIMIT)
        if nth is not None:
            waits.append(_Wait(nth + throttle.ADDRESS_WINDOW, whole_address=True))
    return max(waits, key=lambda wait: wait.until, default=None)


def _refusal(wait: _Wait, now: datetime) -> str:
    """The same words whether or not the email has an account."""
    what = "" if wait.whole_address else " for this email"
    minutes = throttle.minutes_left(wait.until, now)
    return (
        f"Too many failed sign-ins{what} from your network address. "
        f"Try again in {minutes} minute(s)."
    )


def _verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored`; without a stored hash a dummy one is checked, so
    the time taken does not tell which emails have an account (or a password)."""
    try:
        _hasher.verify(stored or _DUMMY_HASH, password[:2048])
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def sign_in(engine: Engine, email: str, password: str, address: str, now: datetime) -> SignIn:
    """Check an email and password; on success open a session. Raises SignInRefused with a
    message for the person; SignInThrottled, without checking the password, while this email
    must wait at this address or the address must (domain/throttle.py).

    Each checked attempt counts as a failure from the start (so that parallel guesses all
    count) and is forgotten on success. The password is checked between two short
    transactions, never while holding a write lock (argon2 takes tens of milliseconds on
    purpose)."""
    key = email_key(email)[:254]
    address = address[:64]

    def look_up(conn: Connection) -> tuple[_Wait | None, tuple[Account, str | None] | None]:
        wait = _throttled(conn, key, address, now)
        if wait is not None:
            return wait, None
        store.record_failure(conn, key, address, now)
        return None, store.account_by_email(conn, key)

    wait, found = run_transaction(engine, look_up)
    if wait is not None:
        raise SignInThrottled(_refusal(wait, now))
    account, stored = found if found is not None else (None, None)
    # One argon2 check on every path (a dummy hash for an unknown email or an account without
    # a password), before looking at anything else: the time taken must not tell them apart.
    matches = _verify(stored, password)
    if account is None or not account.active or not matches:
        raise SignInRefused(WRONG_CREDENTIALS)

    def open_session(conn: Connection) -> SignIn:
        store.forget_failures(conn, key, address, now - throttle.PAIR_WINDOW)
        return _new_session(conn, account, now)

    return run_transaction(engine, open_session)


def sign_in_single_sign_on(
    engine: Engine, email: str, email_verified: bool, now: datetime
) -> SignIn:
    """Open a session for the account whose email the identity provider vouched for."""
    if not email_verified:
        raise SignInRefused("Your identity provider has not verified your email address.")
    key = email_key(email)

    def work(conn: Connection) -> SignIn | None:
        found = store.account_by_email(conn, key)
        if found is None or not found[0].active:
            return None
        return _new_session(conn, found[0], now)

    outcome = run_transaction(engine, work)
    if outcome is None:
        raise SignInRefused(f"No active account has the email {email[:100]}. Ask an admin.")
    return outcome


def session_account(engine: Engine, token: str | None, now: datetime) -> Account:
    """The account behind a session cookie, or SessionEnded."""
    if not isinstance(token, str) or not token or len(token) > 200:
        raise SessionEnded("Please sign in.")
    account = read(engine, lambda conn: store.session_account(conn, token_hash(token), now))
    if account is None:
        raise SessionEnded("Your session has ended. Please sign in again.")
    return account


def open_sessions(engine: Engine, tokens: Collection[str], now: datetime) -> dict[str, datetime]:
    """Which of these session cookies still open an active account's session, with when
    each expires (the live view checks every open page of a server at once)."""
    hashes = {token_hash(t): t for t in tokens if isinstance(t, str) and 0 < len(t) <= 200}
    listed = list(hashes)

    def work(conn: Connection) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for start in range(0, len(listed), 500):  # well below any bound-parameter limit
            found.update(store.open_sessions(conn, listed[start : start + 500], now))
        return found

    return {hashes[h]: at for h, at in read(engine, work).items()} if listed else {}


def sign_out_token(token: str) -> str:
    """The sign-out form's CSRF token for the session with this cookie token: an HMAC keyed
    with the session's own secret, so it needs nothing stored, differs per session, and tells
    nothing about the session token (nor about the SHA-256 the database keeps)."""
    key = token.encode("utf-8", "surrogatepass")
    return hmac.new(key, b"ticketdesk sign-out", hashlib.sha256).hexdigest()


def sign_out(engine: Engine, token: str | None) -> None:
    if token:
        run_transaction(engine, lambda conn: store.delete_session(conn, token_hash(token)))


def change_own_password(
    engine: Engine, token: str, current: str, new: str, now: datetime
) -> Account:
    """Change the signed-in person's password; every other session of theirs ends."""
    new_hash = hash_password(new)
    account = session_account(engine, token, now)
    key = email_key(account.email)
    origin = f"(password change of account {account.id})"  # counted as an address of its own

    def look_up(conn: Connection) -> tuple[_Wait | None, str | None]:
        return _throttled(conn, key, origin, now), store.password_hash_of(conn, account.id)

    wait, stored = read(engine, look_up)
    if wait is not None:  # a stolen session must not become a way to guess the password
        minutes = throttle.minutes_left(wait.until, now)
        raise ValidationError(
            f"Too many wrong current passwords. Try again in {minutes} minute(s)."
        )
    if stored is None:
        raise ValidationError("Your account signs in through single sign-on; it has no password.")
    if not _verify(stored, current):
        run_transaction(engine, lambda conn: store.record_failure(conn, key, origin, now))
        raise ValidationError("Your current password is not right; nothing was changed.")

    def work(conn: Connection) -> Account:
        store.set_password_hash(conn, account.id, new_hash)
        store.delete_sessions_of(conn, account.id, keep=token_hash(token))
        return account

    return run_transaction(engine, work)


def create_account(
    engine: Engine,
    by: Account | None,
    email: str,
    name: str,
    role: str,
    password: str | None,
    now: datetime,
) -> Account:
    """Create an account. `by` is the admin doing it; None is the operator at the command
    line (`ticketdesk create-admin`). Without a password the account signs in only through
    single sign-on."""
    if by is not None:
        require(by, Action.MANAGE_ACCOUNTS)
    address = validate_email(email)
    person = validate_name(name)
    level = validate_role(role)
    hashed = None if password is None else hash_password(password)

    def work(conn: Connection) -> Account:
        if store.email_taken(conn, email_key(address)):
            raise ValidationError(f"{address} already has an account.")
        if store.name_taken(conn, person):
            raise ValidationError(
                f"Someone is already called {person}; add something to tell them apart."
            )
        return store.insert_account(conn, address, email_key(address), person, level, hashed, now)

    return run_transaction(engine, work)


def desk_has_accounts(engine: Engine) -> bool:
    """False on a new desk, until `ticketdesk create-admin` (or the demo data) makes one."""
    return read(engine, store.any_account)


def list_accounts(engine: Engine, by: Account) -> list[Account]:
    require(by, Action.MANAGE_ACCOUNTS)
    return read(engine, store.list_accounts)


def staff(engine: Engine, by: Account) -> list[Account]:
    """The people tickets can be assigned to."""
    require(by, Action.EDIT_TICKET)
    return read(engine, store.staff)


def _managed(conn: Connection, by: Account, account_id: int) -> Account:
    require(by, Action.MANAGE_ACCOUNTS)
    target = store.account_by_id(conn, account_id)
    if target is None:
        raise ValidationError("That account does not exist.")
    return target


def _keep_an_admin(conn: Connection, target: Account) -> None:
    if target.role is Role.ADMIN and target.active and store.count_active_admins(conn) <= 1:
        raise PermissionDenied(f"{target.name} is the last active admin; make another first.")


def set_role(engine: Engine, by: Account, account_id: int, role: str) -> Account:
    level = validate_role(role)

    def work(conn: Connection) -> Account:
        target = _managed(conn, by, account_id)
        if level is not Role.ADMIN:
            _keep_an_admin(conn, target)
        store.set_role(conn, account_id, level)
        return Account(target.id, target.email, target.name, level, target.active)

    return run_transaction(engine, work)


def set_active(engine: Engine, by: Account, account_id: int, active: bool) -> Account:
    """(De)activate an account; deactivation ends its sessions at once."""

    def work(conn: Connection) -> Account:
        target = _managed(conn, by, account_id)
        if not active:
            _keep_an_admin(conn, target)
            store.delete_sessions_of(conn, account_id)
        store.set_active(conn, account_id, active)
        return Account(target.id, target.email, target.name, target.role, active)

    return run_transaction(engine, work)


def unlock_sign_in(engine: Engine, by: Account, account_id: int) -> int:
    """Forget every failed sign-in of an account's email, from any address, so that no wait
    applies to it any more (an admin's answer to "I am told to wait"); how many there were."""

    def work(conn: Connection) -> int:
        target = _managed(conn, by, account_id)
        return store.delete_failures_of(conn, email_key(target.email))

    return run_transaction(engine, work)


def reset_password(engine: Engine, by: Account, account_id: int) -> str:
    """Give an account a new random password (returned, to hand over once) and end its
    sessions."""
    require(by, Action.MANAGE_ACCOUNTS)
    password = generate_password()
    hashed = hash_password(password)

    def work(conn: Connection) -> None:
        _managed(conn, by, account_id)
        store.set_password_hash(conn, account_id, hashed)
        store.delete_sessions_of(conn, account_id)

    run_transaction(engine, work)
    return password
