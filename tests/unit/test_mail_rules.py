"""The pure mail rules (domain.mail) and the mail settings (config.mail_config): what counts
as machine-made, the ticket tokens, the Message-IDs an answer names, the back-off, and a clear
message for every malformed setting."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ticketdesk.config import mail_config, webhook_settings
from ticketdesk.domain.mail import (
    MAX_ATTEMPTS,
    DeskAddress,
    machine_made,
    next_attempt,
    normalise_message_id,
    plus_ticket,
    referenced_ids,
    subject_ticket,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "envelope", "why"),
    [
        ({"auto-submitted": "auto-replied"}, None, "Auto-Submitted: auto-replied"),
        ({"auto-submitted": "auto-generated"}, None, "Auto-Submitted: auto-generated"),
        ({"precedence": "bulk"}, None, "Precedence: bulk"),
        ({"precedence": "junk"}, None, "Precedence: junk"),
        ({"precedence": "list"}, None, "Precedence: list"),
        ({"x-autoreply": "yes"}, None, "x-autoreply: yes"),
        ({"x-autorespond": "Out of office"}, None, "x-autorespond: Out of office"),
        ({"list-id": "<it.lists.example>"}, None, "List-Id"),
        ({"from": "a@b.example"}, "", "null sender"),
        ({"from": "a@b.example"}, "<>", "null sender"),
        ({"from": "MAILER-DAEMON@mx.example"}, None, "a bounce from mailer-daemon@mx.example"),
        ({"from": "Mail System <postmaster@mx.example>"}, None, "postmaster@mx.example"),
        ({"content-type": "multipart/report; report-type=delivery-status"}, None, "report"),
    ],
)
def test_machine_made_mail_is_recognised(
    headers: dict[str, str], envelope: str | None, why: str
) -> None:
    reason = machine_made(headers, envelope)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    "headers",
    [
        {"from": "rita@example.com"},
        {"from": "rita@example.com", "auto-submitted": "no"},
        {"from": "rita@example.com", "precedence": "normal"},
        {"from": "daemon.fan@example.com"},
    ],
)
def test_a_persons_mail_is_not_machine_made(headers: dict[str, str]) -> None:
    assert machine_made(headers, "rita@example.com") is None


def test_ticket_tokens() -> None:
    assert subject_ticket("Re: [TICKET-12] printer") == 12
    assert subject_ticket("Fwd: Re: [TICKET-3] about [ticket-12]") == 12  # the last one
    assert subject_ticket("TICKET-12 without brackets") is None
    assert subject_ticket("[TICKET-0]") is None
    desk = DeskAddress("Support@Desk.example")
    assert desk.plus_token("support+TICKET-7@desk.example") == "TICKET-7"
    assert plus_ticket(desk.plus_token("support+ticket-7@DESK.example")) == 7
    assert desk.plus_token("support@desk.example") is None
    assert desk.plus_token("other+TICKET-7@desk.example") is None
    assert desk.accepts("<support+anything@desk.example>")
    assert not desk.accepts("support@elsewhere.example")


def test_the_ids_an_answer_names_come_most_direct_first() -> None:
    assert referenced_ids("<c@x>", "<a@x> <b@x>\r\n <c@x>") == ["<c@x>", "<b@x>", "<a@x>"]
    assert referenced_ids(None, None) == []
    assert normalise_message_id("  <abc@x> ") == "<abc@x>"
    assert normalise_message_id("abc@x") == "<abc@x>"
    assert normalise_message_id("<>") is None


def test_the_back_off_doubles_until_it_gives_up() -> None:
    waits = [next_attempt(n, NOW, 60) for n in range(1, MAX_ATTEMPTS)]
    assert [w - NOW for w in waits if w] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 64)]
    assert next_attempt(MAX_ATTEMPTS, NOW, 60) is None


def test_mail_settings_and_their_defaults() -> None:
    settings = mail_config({})
    assert (settings.address, settings.base_url, settings.smtp, settings.imap) == (
        "ticketdesk@localhost",
        "http://localhost:8501",
        None,
        None,
    )
    assert (settings.max_bytes, settings.retry_seconds, settings.in_app) == (26214400, 60, True)
    assert settings.retention == timedelta(days=30)
    assert mail_config({"TICKETDESK_OUTBOX_RETENTION_DAYS": "7"}).retention == timedelta(days=7)
    assert mail_config({"TICKETDESK_OUTBOX_RETENTION_DAYS": "0"}).retention is None  # kept
    assert webhook_settings({}).retention == timedelta(days=30)
    assert webhook_settings({"TICKETDESK_OUTBOX_RETENTION_DAYS": "0"}).retention is None
    smtp = mail_config(
        {"TICKETDESK_SMTP_URL": "smtp://a%40b.example:p%3Aw@mx.example?starttls=required"}
    ).smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.username, smtp.password, smtp.tls) == (
        "mx.example",
        25,
        "a@b.example",
        "p:w",
        False,
    )
    assert smtp.options == {"starttls": "required"}
    assert smtp.redacted() == "smtp://a@b.example@mx.example:25"
    imap = mail_config({"TICKETDESK_IMAP_URL": "imaps://u:p@imap.example/Support?done=Done"}).imap
    assert imap is not None
    assert (imap.port, imap.path, imap.options, imap.tls) == (
        993,
        "Support",
        {"done": "Done"},
        True,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TICKETDESK_SMTP_URL": "http://mx.example"}, "TICKETDESK_SMTP_URL must start with"),
        ({"TICKETDESK_SMTP_URL": "smtp://"}, "TICKETDESK_SMTP_URL names no host"),
        ({"TICKETDESK_SMTP_URL": "smtp://mx:port"}, "port that is not a number"),
        ({"TICKETDESK_IMAP_URL": "pop3://mx"}, "TICKETDESK_IMAP_URL must start with"),
        ({"TICKETDESK_MAIL_ADDRESS": "support"}, "TICKETDESK_MAIL_ADDRESS must be an address"),
        ({"TICKETDESK_MAIL_MAX_BYTES": "big"}, "must be a whole number, not 'big'"),
        ({"TICKETDESK_MAIL_RETRY_SECONDS": "0"}, "must be more than 0"),
        ({"TICKETDESK_OUTBOX_RETENTION_DAYS": "1.5"}, "a whole number of days, not '1.5'"),
        ({"TICKETDESK_OUTBOX_RETENTION_DAYS": "-1"}, "cannot be negative"),
    ],
)
def test_a_malformed_setting_is_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mail_config(env)


def cli(tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "ticketdesk.cli", "--database-url", f"sqlite:///{tmp_path}/d.db"]


@pytest.mark.parametrize("command", ["worker", "mail-fetch", "mail-gateway"])
def test_the_mail_commands_name_a_malformed_setting(command: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [*cli(tmp_path), command],
        env={**os.environ, "TICKETDESK_SMTP_URL": "http://mx.example"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "ticketdesk: TICKETDESK_SMTP_URL must start with smtp:// or smtps://, not 'http'\n"
    )


def test_mail_fetch_without_a_mailbox_says_what_to_set(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TICKETDESK_IMAP_URL"}
    done = subprocess.run(
        [*cli(tmp_path), "mail-fetch", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "ticketdesk: set TICKETDESK_IMAP_URL to the mailbox to read\n"
