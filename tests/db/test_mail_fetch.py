"""`ticketdesk mail-fetch` against a real IMAP server (a private dovecot on loopback): mail in
the box becomes tickets and moves to the done folder, at once under IDLE; a mail found again
after a crash is stored once; a wrong password says so."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.support import imap as imap_support
from tests.support.imap import ImapServer
from ticketdesk.config import MailConfig, mail_config
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import FileStoreUnavailable
from ticketdesk.mail.fetch import Fetcher, FetchFailed
from ticketdesk.services import files as file_service
from ticketdesk.services import outbox as outbox_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.schema import mail_inbox, tickets

imap_server = imap_support.imap_server  # the fixture: a private dovecot per test
CORPUS = Path(__file__).resolve().parents[1] / "mail"
DESK = "support@desk.example"


def config(server: ImapServer, **extra: str) -> MailConfig:
    return mail_config(
        {"TICKETDESK_MAIL_ADDRESS": DESK, "TICKETDESK_IMAP_URL": server.url, **extra}
    )


def issues(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(tickets.c.issue).order_by(tickets.c.id)).scalars())


def mail(n: int, sender: str = "rita.requester@example.com") -> bytes:
    return (
        f"From: Rita Requester <{sender}>\r\nTo: {DESK}\r\nSubject: Problem {n}\r\n"
        f"Message-ID: <problem-{n}@example.com>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nThe details of problem {n}.\r\n"
    ).encode()


def test_mail_in_the_box_becomes_tickets_and_moves_to_the_done_folder(
    engine: Engine, requester: Account, imap_server: ImapServer, now: datetime
) -> None:
    imap_server.append((CORPUS / "gmail_new.eml").read_bytes())
    imap_server.append((CORPUS / "mailing_list.eml").read_bytes())
    fetcher = Fetcher(engine, config(imap_server), clock=lambda: now)
    assert fetcher.fetch_once() == 2
    assert issues(engine) == [
        "The printer on floor 2 prints blank pages\n\nHello,\n\nsince this morning the printer "
        "on floor 2 prints only blank pages.\nI already changed the toner.\n\nRita"
    ]
    assert imap_server.messages("INBOX") == []
    assert len(imap_server.messages("Handled")) == 2
    assert fetcher.fetch_once() == 0


def test_a_mail_found_again_after_a_crash_is_stored_once(
    engine: Engine, requester: Account, imap_server: ImapServer, now: datetime
) -> None:
    """The same mail twice in the box: what a fetcher killed between storing a mail and
    moving it leaves behind."""
    imap_server.append(mail(1))
    imap_server.append(mail(1))
    assert Fetcher(engine, config(imap_server), clock=lambda: now).fetch_once() == 2
    assert issues(engine) == ["Problem 1\n\nThe details of problem 1."]
    assert imap_server.messages("INBOX") == []


def test_with_idle_a_new_mail_is_filed_within_seconds(
    engine: Engine, requester: Account, imap_server: ImapServer
) -> None:
    fetcher = Fetcher(engine, config(imap_server))
    stop = threading.Event()
    thread = threading.Thread(target=fetcher.run, args=(stop,))
    thread.start()
    try:
        time.sleep(1.0)  # connected and idling
        imap_server.append(mail(7))
        deadline = time.monotonic() + 10
        while not issues(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert issues(engine) == ["Problem 7\n\nThe details of problem 7."]
        assert time.monotonic() < deadline
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()


def test_a_mails_files_are_attached_and_it_waits_in_the_box_while_they_cannot_be_stored(
    engine: Engine,
    requester: Account,
    agent: Account,
    imap_server: ImapServer,
    now: datetime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the file store's directory should be")
    monkeypatch.setenv("TICKETDESK_FILES_DIR", str(blocked / "files"))
    raw = (CORPUS / "attachment.eml").read_bytes()
    imap_server.append(raw)
    fetcher = Fetcher(engine, config(imap_server), clock=lambda: now)
    with pytest.raises(FileStoreUnavailable):
        fetcher.fetch_once()
    assert len(imap_server.messages("INBOX")) == 1  # left for the next try
    assert issues(engine) == []

    monkeypatch.setenv("TICKETDESK_FILES_DIR", str(tmp_path / "files"))
    assert fetcher.fetch_once() == 1
    assert imap_server.messages("INBOX") == []
    (file,) = ticket_service.ticket_detail(engine, agent, "TICKET-1").files_of(None)
    content = b"".join(file_service.open_file(engine, agent, file.id).chunks())
    assert (file.name, content) == ("error.png", (CORPUS / "files" / "error.png").read_bytes())


def test_a_mail_over_the_limit_is_not_downloaded_but_listed(
    engine: Engine, admin: Account, imap_server: ImapServer, now: datetime
) -> None:
    raw = mail(9) + b"x" * 5000 + b"\r\n"
    imap_server.append(raw)
    fetcher = Fetcher(
        engine, config(imap_server, TICKETDESK_MAIL_MAX_BYTES="2000"), clock=lambda: now
    )
    fetcher.fetch_once()
    (entry,) = outbox_service.received_mail(engine, admin, ("rejected",))
    assert entry.reason is not None and entry.reason.startswith("too large")
    assert entry.size == len(raw)
    assert (
        outbox_service.original_mail(engine, admin, entry.id) == raw[: raw.index(b"\r\n\r\n") + 4]
    )
    assert imap_server.messages("INBOX") == []
    with engine.connect() as conn:
        assert conn.execute(select(mail_inbox.c.outcome)).scalars().all() == ["rejected"]


def test_a_wrong_password_is_said_without_the_password(
    engine: Engine, imap_server: ImapServer
) -> None:
    wrong = imap_server.url.replace("imap%20password%201", "not-it")
    settings = mail_config({"TICKETDESK_IMAP_URL": wrong})
    with pytest.raises(FetchFailed) as failed:
        Fetcher(engine, settings).fetch_once()
    assert str(failed.value).startswith(
        f"cannot read imap://support@desk.example@127.0.0.1:{imap_server.port}:"
    )
    assert "not-it" not in str(failed.value)


def test_the_command_reads_the_box_once(
    database: str, requester: Account, imap_server: ImapServer, engine: Engine
) -> None:
    imap_server.append(mail(3))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ticketdesk.cli",
            "--database-url",
            database,
            "mail-fetch",
            "--once",
        ],
        env={
            **__import__("os").environ,
            "TICKETDESK_IMAP_URL": imap_server.url,
            "TICKETDESK_MAIL_ADDRESS": DESK,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"Read 1 mail(s) from imap://support@desk.example@127.0.0.1:{imap_server.port}" in (
        done.stdout
    )
    assert issues(engine) == ["Problem 3\n\nThe details of problem 3."]


def test_a_server_without_idle_and_move_is_polled_and_mail_copied_then_expunged(
    engine: Engine, requester: Account, tmp_path: Path
) -> None:
    try:
        imap_support.ensure_dovecot()
    except imap_support.DovecotMissing as exc:
        pytest.skip(str(exc))
    with imap_support.dovecot(tmp_path, plain=True) as server:
        probe = server.client()
        assert not probe.has_capability("IDLE") and not probe.has_capability("MOVE")
        probe.logout()
        fetcher = Fetcher(engine, config(server), poll_seconds=0.5)
        stop = threading.Event()
        thread = threading.Thread(target=fetcher.run, args=(stop,))
        thread.start()
        try:
            server.append(mail(11))
            deadline = time.monotonic() + 10
            while not issues(engine) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert issues(engine) == ["Problem 11\n\nThe details of problem 11."]
            while server.messages("INBOX") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert server.messages("INBOX") == []
            assert len(server.messages("Handled")) == 1
        finally:
            stop.set()
            thread.join(timeout=15)
