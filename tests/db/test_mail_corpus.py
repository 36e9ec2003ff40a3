"""The corpus of mail shapes in tests/mail/ (each with its expected outcome in
tests/mail/expected.toml, and the bytes of its files in tests/mail/files/), handed to the intake
on a desk prepared as that file describes; and the cases the corpus cannot hold: a mail over
the size limit, the same mail twice, a refused unknown sender, the thread headers of the
answers, files over the limits."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from ticketdesk.config import MailConfig, mail_config
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.files import Attachment
from ticketdesk.domain.mail import InboundOutcome
from ticketdesk.mail.intake import handle
from ticketdesk.services import accounts as account_service
from ticketdesk.services import files as file_service
from ticketdesk.services import notifications as notification_service
from ticketdesk.services import outbox as outbox_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.inbound import Receipt
from ticketdesk.store.schema import mail_inbox, mail_outbox, ticket_messages, tickets

CORPUS = Path(__file__).resolve().parents[1] / "mail"
FILES = CORPUS / "files"
CASES: list[dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text())["mail"]
DESK = "support@desk.example"


def test_every_mail_of_the_corpus_has_an_expected_outcome() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.eml")) == sorted(c["file"] for c in CASES)
    expected_files = [f.get("bytes", f["name"]) for c in CASES for f in c.get("files", [])]
    assert sorted(p.name for p in FILES.iterdir()) == sorted(expected_files)


@dataclass
class Desk:
    engine: Engine
    config: MailConfig
    rita: Account
    otto: Account
    ana: Account
    admin: Account
    now: datetime

    def receive(self, raw: bytes, **kwargs: Any) -> Receipt:
        return handle(self.engine, raw, channel="smtp", config=self.config, now=self.now, **kwargs)

    def issue(self, ticket_id: int) -> str:
        with self.engine.connect() as conn:
            return str(
                conn.execute(select(tickets.c.issue).where(tickets.c.id == ticket_id)).scalar()
            )

    def requester(self, ticket_id: int) -> str:
        with self.engine.connect() as conn:
            query = select(tickets.c.requester).where(tickets.c.id == ticket_id)
            return str(conn.execute(query).scalar())

    def last_message(self, ticket_id: int) -> tuple[str, str, str]:
        """(kind, author, body) of the ticket's newest message."""
        m = ticket_messages.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(m.kind, m.author, m.body)
                .where(m.ticket_id == ticket_id)
                .order_by(m.id.desc())
                .limit(1)
            ).one()
        return row.kind, row.author, row.body

    def inbox(self) -> list[tuple[str, str, str | None]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(mail_inbox.c.message_id, mail_inbox.c.outcome, mail_inbox.c.reason)
            )
            return [tuple(r) for r in rows]

    def files(self, ticket_id: int, of_last_message: bool) -> list[Attachment]:
        """The attachments of the ticket itself, or of its newest message (as Ana sees them)."""
        detail = ticket_service.ticket_detail(self.engine, self.ana, f"TICKET-{ticket_id}")
        return detail.files_of(detail.messages[-1].id if of_last_message else None)

    def content(self, attachment: Attachment) -> bytes:
        return b"".join(file_service.open_file(self.engine, self.ana, attachment.id).chunks())

    def outbox(self) -> list[tuple[str, str, int | None]]:
        """(kind, recipient, ticket) of every outgoing mail."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    mail_outbox.c.kind, mail_outbox.c.recipient, mail_outbox.c.ticket_id
                ).order_by(mail_outbox.c.id)
            )
            return [tuple(r) for r in rows]


@pytest.fixture
def desk(
    engine: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Desk]:
    """TICKET-1 by Rita, answered by Ana; the desk's two mails about it with known IDs. Files
    go to a directory of the test's own."""
    monkeypatch.setenv("TICKETDESK_MAIL_ADDRESS", DESK)
    monkeypatch.setenv("TICKETDESK_FILES_DIR", str(tmp_path / "files"))

    def make(name: str, role: str) -> Account:
        email = name.lower().replace(" ", ".") + "@example.com"
        return account_service.create_account(engine, None, email, name, role, None, now)

    rita, otto = make("Rita Requester", "requester"), make("Otto Requester", "requester")
    ana, admin = make("Ana Agent", "agent"), make("Ada Admin", "admin")
    ticket = ticket_service.create_ticket(
        engine, rita, "The printer on floor 2 prints blank pages", "High", now
    )
    assert ticket.code == "TICKET-1"
    ticket_service.add_message(engine, ana, ticket.id, "reply", "Please clean the drum.", now)
    with engine.begin() as conn:
        ids = list(conn.execute(select(mail_outbox.c.id).order_by(mail_outbox.c.id)).scalars())
        for row_id, message_id in zip(
            ids, ["<filed.1@desk.example>", "<reply.1@desk.example>"], strict=True
        ):
            conn.execute(
                update(mail_outbox).where(mail_outbox.c.id == row_id).values(message_id=message_id)
            )
    config = mail_config({"TICKETDESK_MAIL_ADDRESS": DESK})
    yield Desk(engine, config, rita, otto, ana, admin, now + timedelta(hours=1))


@pytest.mark.parametrize("case", CASES, ids=[c["file"].removesuffix(".eml") for c in CASES])
def test_a_mail_of_the_corpus(desk: Desk, case: dict[str, Any]) -> None:
    raw = (CORPUS / case["file"]).read_bytes()
    receipt = desk.receive(raw)
    expected = InboundOutcome(case["outcome"])
    assert receipt.outcome is expected, receipt.describe()
    if expected is InboundOutcome.FILED:
        assert receipt.ticket_id is not None and receipt.ticket_id > 1
        text = desk.issue(receipt.ticket_id)
        assert desk.requester(receipt.ticket_id) == case["requester"]
    elif expected is InboundOutcome.REPLY:
        assert f"TICKET-{receipt.ticket_id}" == case["ticket"]
        kind, _, text = desk.last_message(receipt.ticket_id or 0)
        assert kind == case["kind"]
    else:
        assert case["reason"] in (receipt.reason or "")
        (entry,) = [e for e in desk.inbox() if e[1] == expected.value]
        assert case["reason"] in (entry[2] or "")
        return
    if "text" in case:
        assert text == case["text"]
    for part in case.get("contains", []):
        assert part in text
    for part in case.get("lacks", []):
        assert part not in text
    # Its files: attachments of the ticket (a new one) or of the message (a reply), stored
    # byte for byte, with safe names and the type their content shows.
    files = desk.files(receipt.ticket_id or 0, of_last_message=expected is InboundOutcome.REPLY)
    assert [(f.name, f.content_type) for f in files] == [
        (f["name"], f["type"]) for f in case.get("files", [])
    ]
    for stored, wanted in zip(files, case.get("files", []), strict=True):
        expected_bytes = (FILES / wanted.get("bytes", wanted["name"])).read_bytes()
        assert desk.content(stored) == expected_bytes, stored.name
        assert stored.size == len(expected_bytes)
    # The mail is kept, exactly as it came, for staff to open.
    originals = outbox_service.originals_for(desk.engine, desk.ana, receipt.ticket_id or 0)
    assert raw in {
        outbox_service.original_mail(desk.engine, desk.ana, inbox_id)
        for inbox_id in originals.values()
    }


def test_machine_made_mail_gets_no_answer_and_files_nothing(desk: Desk) -> None:
    before = desk.outbox()
    for name in ("out_of_office.eml", "dsn_bounce.eml", "mailing_list.eml", "x_autoreply.eml"):
        desk.receive((CORPUS / name).read_bytes())
    assert desk.outbox() == before
    with desk.engine.connect() as conn:
        assert conn.execute(select(tickets.c.id)).scalars().all() == [1]


def test_the_same_mail_twice_is_stored_once(desk: Desk) -> None:
    raw = (CORPUS / "gmail_new.eml").read_bytes()
    first = desk.receive(raw)
    again = desk.receive(raw)
    assert first.outcome is InboundOutcome.FILED
    assert again.outcome is None and again.describe().startswith("a duplicate")
    with desk.engine.connect() as conn:
        assert conn.execute(select(tickets.c.id)).scalars().all() == [1, first.ticket_id]
    rejected = (CORPUS / "broken_mime.eml").read_bytes()
    assert desk.receive(rejected).outcome is InboundOutcome.REJECTED
    assert desk.receive(rejected).outcome is None
    assert [i[0] for i in desk.inbox()].count("<broken-mime-1@example.com>") == 1


def test_a_mail_over_the_limit_is_rejected_and_only_its_headers_kept(desk: Desk) -> None:
    """30 MB (a 25 MB limit by default): made here, not kept in the corpus."""
    head = (
        b"From: Rita Requester <rita.requester@example.com>\r\nTo: support@desk.example\r\n"
        b"Subject: =?utf-8?q?Gro=C3=9Fe_Datei?=\r\nMessage-ID: <huge-1@example.com>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
    )
    raw = head + (b"x" * 998 + b"\r\n") * (30 * 1000 * 1000 // 1000)
    assert len(raw) > 30_000_000
    receipt = desk.receive(raw)
    assert receipt.outcome is InboundOutcome.REJECTED
    assert receipt.reason is not None
    assert receipt.reason.startswith("too large: 30.0 MB, the limit is 26.2 MB")
    entry = outbox_service.received_mail(desk.engine, desk.admin, ("rejected",))[0]
    assert (entry.sender, entry.subject, entry.size) == (
        "rita.requester@example.com",
        "Große Datei",
        len(raw),
    )
    assert outbox_service.original_mail(desk.engine, desk.admin, entry.id) == head


def test_a_refused_unknown_sender_gets_one_polite_answer(desk: Desk) -> None:
    notification_service.save_mail_settings(
        desk.engine,
        desk.admin,
        notification_service.MailSettings(
            notification_service.UnknownSenders.REFUSE,
            notification_service.mail_settings(desk.engine).notify_unassigned,
        ),
    )
    raw = (CORPUS / "unknown_sender.eml").read_bytes()
    receipt = desk.receive(raw)
    assert receipt.outcome is InboundOutcome.REJECTED
    assert receipt.reason == "new.person@elsewhere.example has no account"
    assert desk.outbox()[-1] == ("refused", "new.person@elsewhere.example", None)
    desk.receive(raw)  # again: no second answer
    assert [o for o in desk.outbox() if o[0] == "refused"] == [
        ("refused", "new.person@elsewhere.example", None)
    ]
    # Another mail of theirs the same day: rejected too, but no second answer that day.
    other = raw.replace(b"<unknown-1@elsewhere.example>", b"<unknown-2@elsewhere.example>")
    second = desk.receive(other)
    assert second.outcome is InboundOutcome.REJECTED
    assert [o for o in desk.outbox() if o[0] == "refused"] == [
        ("refused", "new.person@elsewhere.example", None)
    ]
    assert sorted(e[2] or "" for e in desk.inbox() if e[1] == "rejected") == [
        "new.person@elsewhere.example has no account; answered already today",
        "new.person@elsewhere.example has no account; answered politely",
    ]
    view = outbox_service.outbox(desk.engine, desk.admin)
    refusal = view.mails[0]
    assert refusal.in_reply_to == "<unknown-1@elsewhere.example>"
    assert "was not filed" in refusal.row.body_text


def test_answers_thread_onto_the_mail_they_answer(desk: Desk) -> None:
    """A new ticket's confirmation answers the mail that filed it; an agent's mail reply
    reaches the requester as a public reply, in the same thread."""
    filed = desk.receive((CORPUS / "gmail_new.eml").read_bytes())
    view = outbox_service.outbox(desk.engine, desk.admin)
    confirmation = view.mails[0]
    assert confirmation.row.ticket_id == filed.ticket_id
    assert confirmation.row.kind == "filed"
    assert confirmation.in_reply_to == "<CAJd2k+fX3p9QWm1vT0s@mail.gmail.com>"
    assert confirmation.references == ["<CAJd2k+fX3p9QWm1vT0s@mail.gmail.com>"]

    desk.receive((CORPUS / "agent_reply.eml").read_bytes())
    answer = outbox_service.outbox(desk.engine, desk.admin).mails[0]
    assert (answer.row.kind, answer.row.recipient, answer.row.ticket_id) == (
        "reply",
        desk.rita.email,
        1,
    )
    assert "A technician comes by at 14:00 today." in answer.row.body_text
    assert answer.in_reply_to == "<agent-reply-1@example.com>"
    assert answer.references == [
        "<filed.1@desk.example>",
        "<reply.1@desk.example>",
        "<agent-reply-1@example.com>",
    ]


def mail_with_files(message_id: str, files: list[tuple[str, bytes]]) -> bytes:
    """A new mail from Rita with `files` attached (application/octet-stream, base64)."""
    mail = EmailMessage()
    mail["From"] = "Rita Requester <rita.requester@example.com>"
    mail["To"] = DESK
    mail["Subject"] = "Logs of the crash"
    mail["Message-ID"] = message_id
    mail.set_content("The logs are attached.\n")
    for name, data in files:
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return mail.as_bytes()


def test_a_file_over_the_limit_is_listed_and_the_mail_filed_with_the_others(desk: Desk) -> None:
    """A 26 MB file (the limit per file is 25 MB) in a mail the desk takes (the mail limit
    raised to 40 MB): the ticket is filed with the two other files; its text names the one
    left out, which stays in the original mail."""
    huge = b"\0" * (26 * 1024 * 1024)
    raw = mail_with_files(
        "<crash-logs-1@example.com>",
        [("before.log", b"before\n"), ("core.dump", huge), ("after.log", b"after\n")],
    )
    desk.config = replace(desk.config, max_bytes=40_000_000)
    receipt = desk.receive(raw)
    assert receipt.outcome is InboundOutcome.FILED and receipt.ticket_id is not None
    assert desk.issue(receipt.ticket_id) == (
        "Logs of the crash\n\nThe logs are attached.\n\n"
        "[Not attached (still in the original mail, which staff can open): "
        "core.dump (26.0 MB), larger than 25.0 MB, the limit per file]"
    )
    files = desk.files(receipt.ticket_id, of_last_message=False)
    assert [(f.name, desk.content(f)) for f in files] == [
        ("before.log", b"before\n"),
        ("after.log", b"after\n"),
    ]
    (original,) = outbox_service.originals_for(desk.engine, desk.ana, receipt.ticket_id).values()
    assert outbox_service.original_mail(desk.engine, desk.ana, original) == raw


def test_files_past_the_tenth_are_listed_and_the_reply_keeps_ten(desk: Desk) -> None:
    raw = mail_with_files(
        "<many-files-1@example.com>", [(f"part{n:02}.txt", f"{n}\n".encode()) for n in range(12)]
    ).replace(b"Subject: Logs of the crash", b"Subject: Re: [TICKET-1] The printer")
    receipt = desk.receive(raw)
    assert receipt.outcome is InboundOutcome.REPLY and receipt.ticket_id == 1
    files = desk.files(1, of_last_message=True)
    assert [(f.name, desk.content(f)) for f in files] == [
        (f"part{n:02}.txt", f"{n}\n".encode()) for n in range(10)
    ]
    assert desk.last_message(1)[2] == (
        "The logs are attached.\n\n"
        "[Not attached (still in the original mail, which staff can open): "
        "part10.txt (3 B), a message takes at most 10 files; "
        "part11.txt (3 B), a message takes at most 10 files]"
    )


def test_the_desks_own_mail_coming_back_is_listed_as_ignored(desk: Desk) -> None:
    """A forward that sends the desk's notification back to it (its Message-ID is one the
    desk sent): no ticket, no answer, one entry on the list."""
    echo = (
        b"From: Help <help@desk.example>\r\nTo: support@desk.example\r\n"
        b"Subject: Received: [TICKET-1] The printer\r\nMessage-ID: <filed.1@desk.example>\r\n"
        b"\r\nYour ticket was received.\r\n"
    )
    before = desk.outbox()
    receipt = desk.receive(echo)
    assert (receipt.outcome, receipt.reason) == (
        InboundOutcome.IGNORED,
        "the desk's own mail came back",
    )
    assert desk.receive(echo).outcome is None  # twice: stored once
    assert [e for e in desk.inbox() if e[0] == "<filed.1@desk.example>"] == [
        ("<filed.1@desk.example>", "ignored", "the desk's own mail came back")
    ]
    assert desk.outbox() == before
