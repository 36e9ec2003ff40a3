"""Accounts, sign-in and sessions on real SQLite and PostgreSQL: how passwords and session
tokens are stored, throttling, ending sessions, keeping an admin, single sign-on, and the
command line and demo accounts. Each argon2 hash or check takes tens of milliseconds, so the
tests make only the few they need."""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select, text

from ticketdesk import cli
from ticketdesk.domain.accounts import (
    Account,
    PermissionDenied,
    Role,
    SessionEnded,
    SignInRefused,
)
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.throttle import ADDRESS_LIMIT, FREE_FAILURES
from ticketdesk.services import demo as demo_service
from ticketdesk.services.accounts import (
    SESSION_LIFETIME,
    WRONG_CREDENTIALS,
    change_own_password,
    create_account,
    reset_password,
    session_account,
    set_active,
    set_role,
    sign_in,
    sign_in_single_sign_on,
    sign_out,
    unlock_sign_in,
)
from ticketdesk.store.db import make_engine, migrate
from ticketdesk.store.schema import accounts, auth_sessions

EMAIL = "ada@example.com"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "tr0ub4dor & three more words"
WRONG = "not the password at all"
HOME = "203.0.113.7"  # the address Ada signs in from
ELSEWHERE = "198.51.100.20"


def person(
    engine: Engine,
    now: datetime,
    email: str = EMAIL,
    name: str = "Ada Lovelace",
    role: str = "requester",
    password: str | None = PASSWORD,
) -> Account:
    return create_account(engine, None, email, name, role, password, now)


def refusal(engine: Engine, email: str, password: str, address: str, now: datetime) -> str:
    with pytest.raises(SignInRefused) as refused:
        sign_in(engine, email, password, address, now)
    return str(refused.value)


def count(engine: Engine, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        query = select(func.count()).select_from(table)
        return int(conn.execute(query.where(*where) if where else query).scalar_one())


def account_row(engine: Engine, account_id: int):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(accounts).where(accounts.c.id == account_id)).one()


def ended(engine: Engine, token: str, now: datetime) -> bool:
    try:
        session_account(engine, token, now)
    except SessionEnded:
        return True
    return False


# --- Storing passwords and emails ------------------------------------------------------------


def test_the_password_is_stored_as_an_argon2id_hash_never_as_plain_text(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    row = account_row(engine, made.id)
    assert row.password_hash.startswith("$argon2id$")
    assert all(PASSWORD not in str(value) for value in row)
    # A standard argon2 library (not the desk's code) confirms the hash is of this password.
    assert PasswordHasher().verify(row.password_hash, PASSWORD)


def test_the_email_is_trimmed_and_compared_without_case(engine: Engine, now: datetime) -> None:
    made = person(engine, now, email="  Ada@Example.com ")
    row = account_row(engine, made.id)
    assert (row.email, row.email_key) == ("Ada@Example.com", "ada@example.com")
    assert sign_in(engine, "  ADA@Example.com ", PASSWORD, HOME, now).account.id == made.id


@pytest.mark.parametrize("second", ["ADA@example.COM", " ada@EXAMPLE.com"])
def test_an_email_taken_in_another_case_is_refused(
    engine: Engine, now: datetime, second: str
) -> None:
    person(engine, now, email="Ada@Example.com", password=None)
    with pytest.raises(ValidationError, match="already has an account"):
        person(engine, now, email=second, name="Another Ada", password=None)
    assert count(engine, accounts) == 1


@pytest.mark.parametrize("second", ["Ada Lovelace", "  Ada Lovelace ", "ada LOVELACE"])
def test_a_taken_name_is_refused(engine: Engine, now: datetime, second: str) -> None:
    person(engine, now, password=None)
    with pytest.raises(ValidationError, match="already called"):
        person(engine, now, email="other.ada@example.com", name=second, password=None)
    assert count(engine, accounts) == 1


def test_a_name_differing_only_in_the_case_of_an_accented_letter_is_refused(
    engine: Engine, now: datetime
) -> None:
    person(engine, now, email="elodie@example.com", name="Élodie Durand", password=None)
    with pytest.raises(ValidationError, match="already called"):
        person(engine, now, email="e.durand@example.com", name="ÉLODIE DURAND", password=None)
    assert count(engine, accounts) == 1


@pytest.mark.parametrize(
    ("email", "name", "role", "password"),
    [
        ("not-an-email", "Bad Email", "requester", None),
        ("bad.role@example.com", "Bad Role", "superuser", None),
        ("bad.name@example.com", "Bad\x07Name", "requester", None),
        ("short@example.com", "Short Password", "requester", "eleven char"),
        ("spaced@example.com", "Spaced Password", "requester", " leading space pw"),
    ],
    ids=["email", "role", "control-character-in-name", "short-password", "padded-password"],
)
def test_an_invalid_account_is_refused_and_not_stored(
    engine: Engine, now: datetime, email: str, name: str, role: str, password: str | None
) -> None:
    with pytest.raises(ValidationError):
        create_account(engine, None, email, name, role, password, now)
    assert count(engine, accounts) == 0


# --- Signing in ------------------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_email_get_the_same_refusal(
    engine: Engine, now: datetime
) -> None:
    person(engine, now)
    wrong_password = refusal(engine, EMAIL, WRONG, HOME, now)
    wrong_case = refusal(engine, EMAIL, PASSWORD.upper(), HOME, now)
    unknown = refusal(engine, "nobody@example.com", PASSWORD, HOME, now)
    assert wrong_password == wrong_case == unknown
    assert count(engine, auth_sessions) == 0


def test_an_inactive_account_is_refused_even_with_the_right_password(
    engine: Engine, now: datetime, admin: Account
) -> None:
    made = person(engine, now)
    set_active(engine, admin, made.id, False)
    inactive = refusal(engine, EMAIL, PASSWORD, HOME, now)
    assert inactive == refusal(engine, "nobody@example.com", PASSWORD, HOME, now)
    assert count(engine, auth_sessions) == 0


def test_a_session_lasts_until_it_expires_or_the_person_signs_out(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    first = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    second = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    assert first.token != second.token
    assert first.expires_at == now + timedelta(hours=12)
    assert session_account(engine, first.token, now) == made
    assert session_account(engine, first.token, now + SESSION_LIFETIME - timedelta(seconds=1))
    assert ended(engine, first.token, now + SESSION_LIFETIME)
    assert ended(engine, first.token, now + SESSION_LIFETIME + timedelta(seconds=1))
    assert ended(engine, secrets.token_urlsafe(32), now)  # forged
    assert ended(engine, first.token[:-1] + ("A" if first.token[-1] != "A" else "B"), now)
    with pytest.raises(SessionEnded):
        session_account(engine, None, now)
    with pytest.raises(SessionEnded):
        session_account(engine, "", now)
    sign_out(engine, first.token)
    assert ended(engine, first.token, now)
    assert session_account(engine, second.token, now) == made  # only that session ended


def test_the_database_keeps_only_the_sha256_of_a_session_token(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    signed_in = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    with engine.connect() as conn:
        rows = conn.execute(select(auth_sessions)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.token_hash == hashlib.sha256(signed_in.token.encode()).hexdigest()
    assert row.account_id == made.id
    assert all(signed_in.token not in str(value) for value in row)


# --- Throttling ------------------------------------------------------------------------------


GUESSER = "192.0.2.66"  # someone else's address, guessing Ada's password
BACK_OFF = "Too many failed sign-ins for this email from your network address. Try again in"


def test_failures_for_an_email_from_one_address_never_lock_the_owner_out(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    for _ in range(FREE_FAILURES):
        assert refusal(engine, EMAIL, WRONG, GUESSER, now) == WRONG_CREDENTIALS
    half_a_minute_later = now + timedelta(seconds=30)
    # Ada, at an address that has not been failing, signs in as usual ...
    assert sign_in(engine, EMAIL, PASSWORD, HOME, half_a_minute_later).account.id == made.id
    # ... while the guesser's address must wait, even with the right password (the attempt
    # is not even checked), and Ada's sign-in elsewhere did not lift that.
    blocked = refusal(engine, EMAIL, PASSWORD, GUESSER, half_a_minute_later)
    assert blocked == f"{BACK_OFF} 1 minute(s)."
    # An email without an account gets the very same answers.
    for _ in range(FREE_FAILURES):
        assert refusal(engine, "nobody@example.com", WRONG, GUESSER, now) == WRONG_CREDENTIALS
    assert refusal(engine, "nobody@example.com", PASSWORD, GUESSER, half_a_minute_later) == (
        blocked
    )


def test_each_further_failure_doubles_the_wait_up_to_a_quarter_of_an_hour(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    for _ in range(FREE_FAILURES):
        refusal(engine, EMAIL, WRONG, GUESSER, now)
    assert refusal(engine, EMAIL, WRONG, GUESSER, now + timedelta(seconds=59)).startswith(BACK_OFF)
    # The failure after each wait, and the wait it brings (every failure is within the hour).
    at = now
    for waited, then_wait in [(1, 2), (2, 4), (4, 8), (8, 15), (15, 15)]:
        at += timedelta(minutes=waited)
        assert refusal(engine, EMAIL, WRONG, GUESSER, at) == WRONG_CREDENTIALS  # checked
        soon = at + timedelta(seconds=1)
        assert refusal(engine, EMAIL, PASSWORD, GUESSER, soon) == (
            f"{BACK_OFF} {then_wait} minute(s)."
        )
    assert at == now + timedelta(minutes=30)
    # A wait, not a lock: once it is over, the right password works from there too.
    later = at + timedelta(minutes=15)
    assert sign_in(engine, EMAIL, PASSWORD, GUESSER, later).account.id == made.id


def test_one_failure_short_of_the_back_off_the_right_password_still_works(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    for _ in range(FREE_FAILURES - 1):
        refusal(engine, EMAIL, WRONG, HOME, now)
    assert sign_in(engine, EMAIL, PASSWORD, HOME, now).account.id == made.id


def test_a_successful_sign_in_clears_the_failure_count_of_that_email_there(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    for _ in range(FREE_FAILURES - 1):
        refusal(engine, EMAIL, WRONG, HOME, now)
    sign_in(engine, EMAIL, PASSWORD, HOME, now)
    later = now + timedelta(minutes=1)
    for _ in range(FREE_FAILURES - 1):
        refusal(engine, EMAIL, WRONG, HOME, later)
    # 8 failures in the window had the first 4 not been forgotten: past the 5 free ones.
    assert sign_in(engine, EMAIL, PASSWORD, HOME, later).account.id == made.id


def test_many_failures_from_one_address_stop_it_for_every_email_but_not_other_addresses(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    ten_minutes_ago = now - timedelta(minutes=10)
    for i in range(10):  # one guess per email: no email's back-off starts
        refusal(engine, f"early{i}@example.com", WRONG, GUESSER, ten_minutes_ago)
    for i in range(ADDRESS_LIMIT - 11):
        refusal(engine, f"guess{i}@example.com", WRONG, GUESSER, now)
    assert sign_in(engine, EMAIL, PASSWORD, GUESSER, now).account.id == made.id  # 19 < 20
    refusal(engine, "guess-last@example.com", WRONG, GUESSER, now)  # the 20th
    blocked = refusal(engine, EMAIL, PASSWORD, GUESSER, now)
    # Until the earliest ten leave the quarter of an hour: in 5 minutes.
    assert blocked == (
        "Too many failed sign-ins from your network address. Try again in 5 minute(s)."
    )
    assert refusal(engine, "nobody@example.com", PASSWORD, GUESSER, now) == blocked
    assert sign_in(engine, EMAIL, PASSWORD, ELSEWHERE, now).account.id == made.id
    after = now + timedelta(minutes=5, seconds=1)
    assert sign_in(engine, EMAIL, PASSWORD, GUESSER, after).account.id == made.id


def test_an_admin_unlocks_an_account_by_forgetting_its_failures_from_everywhere(
    engine: Engine, now: datetime, admin: Account
) -> None:
    made = person(engine, now)
    for address in (GUESSER, HOME):
        for _ in range(FREE_FAILURES):
            refusal(engine, EMAIL, WRONG, address, now)
    assert refusal(engine, EMAIL, PASSWORD, HOME, now).startswith(BACK_OFF)
    assert unlock_sign_in(engine, admin, made.id) == 2 * FREE_FAILURES
    assert sign_in(engine, EMAIL, PASSWORD, HOME, now).account.id == made.id
    assert refusal(engine, EMAIL, WRONG, GUESSER, now) == WRONG_CREDENTIALS  # checked again
    assert unlock_sign_in(engine, admin, made.id) == 1
    assert unlock_sign_in(engine, admin, made.id) == 0
    with pytest.raises(ValidationError, match="That account does not exist"):
        unlock_sign_in(engine, admin, made.id + 100)


def test_wrong_current_passwords_are_throttled_like_sign_ins(engine: Engine, now: datetime) -> None:
    person(engine, now)
    here = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    for _ in range(FREE_FAILURES):
        with pytest.raises(ValidationError, match="current password is not right"):
            change_own_password(engine, here.token, WRONG, NEW_PASSWORD, now)
    with pytest.raises(ValidationError) as refused:
        change_own_password(engine, here.token, PASSWORD, NEW_PASSWORD, now)
    assert str(refused.value) == "Too many wrong current passwords. Try again in 1 minute(s)."
    # Other addresses' sign-ins are not slowed down by it.
    assert sign_in(engine, EMAIL, PASSWORD, HOME, now).account.email == EMAIL


# --- Changing passwords and ending sessions ---------------------------------------------------


def test_changing_ones_password_ends_the_other_sessions_but_not_this_one(
    engine: Engine, now: datetime
) -> None:
    made = person(engine, now)
    here = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    there = sign_in(engine, EMAIL, PASSWORD, ELSEWHERE, now)
    later = now + timedelta(minutes=5)
    change_own_password(engine, here.token, PASSWORD, NEW_PASSWORD, later)
    assert session_account(engine, here.token, later) == made
    assert ended(engine, there.token, later)
    assert refusal(engine, EMAIL, PASSWORD, HOME, later).startswith("That email and password")
    assert sign_in(engine, EMAIL, NEW_PASSWORD, HOME, later).account.id == made.id


def test_a_wrong_current_password_changes_nothing(engine: Engine, now: datetime) -> None:
    made = person(engine, now)
    here = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    there = sign_in(engine, EMAIL, PASSWORD, ELSEWHERE, now)
    stored = account_row(engine, made.id).password_hash
    with pytest.raises(ValidationError, match="current password"):
        change_own_password(engine, here.token, WRONG, NEW_PASSWORD, now)
    with pytest.raises(ValidationError):  # the new one too short: refused before anything
        change_own_password(engine, here.token, PASSWORD, "too short", now)
    assert account_row(engine, made.id).password_hash == stored
    assert session_account(engine, there.token, now) == made
    assert sign_in(engine, EMAIL, PASSWORD, HOME, now).account.id == made.id


def test_deactivating_an_account_ends_all_its_sessions_at_once(
    engine: Engine, now: datetime, admin: Account
) -> None:
    made = person(engine, now)
    tokens = [sign_in(engine, EMAIL, PASSWORD, HOME, now).token for _ in range(2)]
    set_active(engine, admin, made.id, False)
    assert all(ended(engine, token, now) for token in tokens)
    assert count(engine, auth_sessions, auth_sessions.c.account_id == made.id) == 0
    # Reactivating does not bring the old sessions back; signing in again works.
    set_active(engine, admin, made.id, True)
    assert all(ended(engine, token, now) for token in tokens)
    assert sign_in(engine, EMAIL, PASSWORD, HOME, now).account.id == made.id


def test_a_reset_password_works_and_ends_the_old_sessions(
    engine: Engine, now: datetime, admin: Account
) -> None:
    made = person(engine, now)
    before = sign_in(engine, EMAIL, PASSWORD, HOME, now)
    new = reset_password(engine, admin, made.id)
    assert new != PASSWORD
    assert len(new) >= 12
    assert ended(engine, before.token, now)
    assert refusal(engine, EMAIL, PASSWORD, HOME, now).startswith("That email and password")
    assert sign_in(engine, EMAIL, new, HOME, now).account.id == made.id


# --- Keeping an admin ------------------------------------------------------------------------


def role_and_active(engine: Engine, account_id: int) -> tuple[str, bool]:
    row = account_row(engine, account_id)
    return row.role, bool(row.active)


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(
    engine: Engine, now: datetime, admin: Account
) -> None:
    with pytest.raises(PermissionDenied, match="last active admin"):
        set_role(engine, admin, admin.id, "agent")
    with pytest.raises(PermissionDenied, match="last active admin"):
        set_active(engine, admin, admin.id, False)
    assert role_and_active(engine, admin.id) == ("admin", True)

    second = create_account(engine, admin, "bo.boss@example.com", "Bo Boss", "admin", None, now)
    assert set_role(engine, admin, admin.id, "agent").role is Role.AGENT
    assert role_and_active(engine, admin.id) == ("agent", True)
    # Now Bo is the last one.
    with pytest.raises(PermissionDenied):
        set_active(engine, second, second.id, False)
    with pytest.raises(PermissionDenied):
        set_role(engine, second, second.id, "requester")
    assert role_and_active(engine, second.id) == ("admin", True)


def test_an_inactive_admin_does_not_count_as_another_admin(
    engine: Engine, now: datetime, admin: Account
) -> None:
    second = create_account(engine, admin, "bo.boss@example.com", "Bo Boss", "admin", None, now)
    set_active(engine, admin, second.id, False)  # allowed: Ada is still an active admin
    with pytest.raises(PermissionDenied):
        set_role(engine, admin, admin.id, "requester")
    with pytest.raises(PermissionDenied):
        set_active(engine, admin, admin.id, False)
    assert role_and_active(engine, admin.id) == ("admin", True)


def test_two_admins_demoting_each_other_at_once_leave_an_admin(
    engine: Engine, now: datetime, admin: Account
) -> None:
    """Two admins, each demoting the other at the same moment: one must be refused."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time (BEGIN IMMEDIATE)")
    second = create_account(engine, admin, "bo.boss@example.com", "Bo Boss", "admin", None, now)
    outcomes: dict[str, object] = {}

    def demote(who: Account, target: int) -> None:
        try:
            outcomes[who.name] = set_role(engine, who, target, "agent")
        except Exception as exc:  # recorded, checked below
            outcomes[who.name] = exc

    # Hold both admins' rows, so that both demotions read the admin count before either
    # writes; then let them go together.
    with engine.connect() as blocker:
        holding = blocker.begin()
        blocker.execute(
            select(accounts.c.id).where(accounts.c.id.in_([admin.id, second.id])).with_for_update()
        )
        pid = blocker.execute(text("SELECT pg_backend_pid()")).scalar_one()
        threads = [
            threading.Thread(target=demote, args=(admin, second.id)),
            threading.Thread(target=demote, args=(second, admin.id)),
        ]
        for thread in threads:
            thread.start()
        waiting_query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"
        )
        deadline = time.monotonic() + 5
        with engine.connect() as watcher:
            while time.monotonic() < deadline:
                waiting = watcher.execute(waiting_query, {"pid": pid}).scalar_one()
                watcher.rollback()  # pg_stat_activity is a snapshot per transaction
                if waiting >= 2:
                    break
                time.sleep(0.02)
        holding.rollback()
    for thread in threads:
        thread.join(timeout=30)
    refused = [o for o in outcomes.values() if isinstance(o, PermissionDenied)]
    assert len(outcomes) == 2
    assert count(engine, accounts, accounts.c.role == "admin", accounts.c.active.is_(True)) == 1
    assert len(refused) == 1


# --- Single sign-on --------------------------------------------------------------------------


def test_single_sign_on_finds_the_account_by_email_in_any_case(
    engine: Engine, now: datetime, admin: Account
) -> None:
    made = person(engine, now, email="Sam.Sso@Example.com", name="Sam Sso", password=None)
    signed_in = sign_in_single_sign_on(engine, " sam.sso@EXAMPLE.com", True, now)
    assert signed_in.account.id == made.id
    assert session_account(engine, signed_in.token, now) == made
    # An account without a password cannot be opened with a password.
    refusal(engine, "sam.sso@example.com", PASSWORD, HOME, now)

    with pytest.raises(SignInRefused, match="not verified"):
        sign_in_single_sign_on(engine, "sam.sso@example.com", False, now)
    with pytest.raises(SignInRefused, match="No active account"):
        sign_in_single_sign_on(engine, "sam.someone@example.com", True, now)
    set_active(engine, admin, made.id, False)
    with pytest.raises(SignInRefused, match="No active account"):
        sign_in_single_sign_on(engine, "sam.sso@example.com", True, now)
    assert count(engine, auth_sessions) == 0  # the one session ended with the deactivation


# --- Command line and demo accounts ----------------------------------------------------------

_PRINTED_PASSWORD = re.compile(r"^Password \(shown once; change it after signing in\): (\S+)$")


def test_create_admin_prints_a_generated_password_that_signs_in(
    database: str, engine: Engine, now: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    passwords = []
    for email, name in [("Root@Example.com", "Root Admin"), ("deputy@example.com", "Deputy")]:
        argv = ["--database-url", database, "create-admin", "--email", email, "--name", name]
        assert cli.main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == f"Admin account created: {name} <{email}>"
        found = [m.group(1) for line in lines if (m := _PRINTED_PASSWORD.match(line))]
        assert len(found) == 1
        passwords.append(found[0])
    assert passwords[0] != passwords[1]  # generated, not fixed
    signed_in = sign_in(engine, "root@example.com", passwords[0], HOME, now)
    assert (signed_in.account.name, signed_in.account.role) == ("Root Admin", Role.ADMIN)
    assert account_row(engine, signed_in.account.id).password_hash.startswith("$argon2id$")


def test_create_admin_takes_the_password_from_standard_input(
    database: str,
    engine: Engine,
    now: datetime,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen = "a password I chose myself"
    monkeypatch.setattr(sys, "stdin", io.StringIO(chosen + "\n"))
    argv = ["--database-url", database, "create-admin", "--email", "root@example.com"]
    assert cli.main([*argv, "--name", "Root Admin", "--password-stdin"]) == 0
    out = capsys.readouterr().out
    assert chosen not in out
    assert "Password" not in out
    assert sign_in(engine, "root@example.com", chosen, HOME, now).account.role is Role.ADMIN


def test_create_admin_refuses_a_short_password_from_standard_input(
    database: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    argv = ["--database-url", database, "create-admin", "--email", "root@example.com"]
    assert cli.main([*argv, "--name", "Root Admin", "--password-stdin"]) == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert count(engine, accounts) == 0


def test_demo_accounts_get_new_passwords_that_sign_in(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    made = demo_service.create_demo_accounts(engine, now)
    assert len(made) == 13  # five agents, eight requesters
    assert [a.email for a, _ in made if a.role is Role.ADMIN] == ["ana.lima@example.com"]
    assert sum(a.role is Role.AGENT for a, _ in made) == 4
    for account, password in made:
        assert sign_in(engine, account.email, password, HOME, now).account == account
    passwords = [password for _, password in made]
    assert len(set(passwords)) == 13

    listing = demo_service.describe_accounts(made).splitlines()
    for account, password in made:
        assert any(account.email in line and password in line for line in listing)

    other = make_engine(f"sqlite:///{tmp_path / 'second-desk.db'}")
    try:
        migrate(other)
        again = demo_service.create_demo_accounts(other, now)
    finally:
        other.dispose()
    assert [a.email for a, _ in again] == [a.email for a, _ in made]
    assert not set(passwords) & {password for _, password in again}
