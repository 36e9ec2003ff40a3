"""Mail end to end, in the browser, with the app server running the outbox worker and the IMAP
fetcher in its lifespan: a mail dropped into the mailbox (a private dovecot) becomes a ticket
that an agent's open list shows within the live-view interval; the agent answers on the
ticket's page; the answer reaches the SMTP server (aiosmtpd) with the thread's headers; the
requester's reply, built from that mail, threads onto the same ticket and shows on the
agent's open page with the screenshot it carries as a thumbnail, which downloads byte for
byte."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import imap as imap_support
from tests.support.app_server import AppServer, run_app
from tests.support.browser import Desk
from tests.support.imap import ImapServer
from tests.support.smtp import SmtpServer

pytestmark = pytest.mark.e2e

imap_server = imap_support.imap_server  # the fixture: a private dovecot per test
DESK = "support@desk.example"
LIVE_SECONDS = 2
SCREENSHOT = Path(__file__).resolve().parents[1] / "mail" / "files" / "image001.png"  # 2x1 px


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(
    chromium: Path, tmp_path: Path, imap_server: ImapServer, smtp: SmtpServer
) -> Iterator[AppServer]:
    env = {
        "TICKETDESK_MAIL_ADDRESS": DESK,
        "TICKETDESK_SMTP_URL": smtp.url,
        "TICKETDESK_IMAP_URL": imap_server.url,
        "TICKETDESK_LIVE_SECONDS": str(LIVE_SECONDS),
    }
    with run_app(tmp_path, demo_tickets=0, extra_env=env) as server:
        yield server


def wait_for_mail(smtp: SmtpServer, count: int, timeout: float = 30.0) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while len(smtp.received) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} mails expected at the SMTP server, got {len(smtp.received)}")
        time.sleep(0.1)
    return smtp.handler.messages()


def test_a_mail_becomes_a_ticket_and_the_conversation_threads_both_ways(
    mail_app: AppServer,
    new_desk: Callable[..., Desk],
    imap_server: ImapServer,
    smtp: SmtpServer,
) -> None:
    rita = mail_app.person("Rita Rossi", "requester")
    desk = new_desk(mail_app)  # Ana Ortiz, an agent
    desk.load_tickets()
    assert desk.ticket_count() == 0

    first = EmailMessage()
    first["From"] = f"Rita Rossi <{rita.email}>"
    first["To"] = DESK
    first["Subject"] = "VPN drops every hour"
    first["Message-ID"] = make_msgid(domain="rita.example")
    first.set_content("Since Monday the VPN drops every hour.\n\nRita\n")
    imap_server.append(bytes(first))

    # The open list shows it by itself (the live view), no reload.
    expect(desk.cell("ID", 0)).to_have_text("TICKET-1", timeout=LIVE_SECONDS * 1000 + 15_000)
    desk.screenshot("ticket-from-mail")
    page = desk.page
    page.goto(f"{mail_app.url}/?ticket=TICKET-1")
    expect(page.get_by_role("heading", name="TICKET-1")).to_be_visible()
    expect(page.get_by_text("Since Monday the VPN drops every hour.")).to_be_visible()
    desk.wait_idle()

    (confirmation,) = wait_for_mail(smtp, 1)
    assert confirmation["To"] == f"Rita Rossi <{rita.email}>"
    assert confirmation["In-Reply-To"] == first["Message-ID"]

    page.get_by_label("Message", exact=True).fill("Please update the VPN client to 5.2.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Public reply added.")).to_be_visible()
    desk.wait_idle()

    _, answer = wait_for_mail(smtp, 2)
    assert answer["Subject"] == "Re: [TICKET-1] VPN drops every hour"
    assert answer["Auto-Submitted"] == "auto-generated"
    assert answer["In-Reply-To"] == confirmation["Message-ID"]
    assert answer["References"].split() == [first["Message-ID"], confirmation["Message-ID"]]
    text = answer.get_body(("plain",))
    assert text is not None
    assert "Please update the VPN client to 5.2." in text.get_content()

    # Rita answers that mail from her mail client: top-posted, the mail quoted below.
    reply = EmailMessage()
    reply["From"] = f"Rita Rossi <{rita.email}>"
    reply["To"] = answer["Reply-To"]
    reply["Subject"] = "Re: " + answer["Subject"]
    reply["Message-ID"] = make_msgid(domain="rita.example")
    reply["In-Reply-To"] = answer["Message-ID"]
    reply["References"] = f"{answer['References']} {answer['Message-ID']}"
    quoted = "\n".join("> " + line for line in text.get_content().splitlines())
    reply.set_content(
        f"Updated, it holds now. Thanks!\n\nOn Tue, Ticket desk <{DESK}> wrote:\n{quoted}\n"
    )
    screenshot = SCREENSHOT.read_bytes()
    reply.add_attachment(screenshot, maintype="image", subtype="png", filename="vpn-ok.png")
    imap_server.append(bytes(reply))

    # The agent's open ticket page shows it by itself, without the quoted mail.
    message = page.get_by_text("Updated, it holds now. Thanks!")
    expect(message).to_be_visible(timeout=LIVE_SECONDS * 1000 + 15_000)
    expect(page.get_by_text("Rita Rossi · Requester's message")).to_be_visible()
    expect(page.get_by_test_id("stChatMessage")).to_have_count(2)
    # Its screenshot is an attachment of that message: a thumbnail from the desk's /files.
    thumbnail = page.locator("img[src*='/files/']")
    expect(thumbnail).to_have_count(1)
    expect(thumbnail).to_have_js_property("naturalWidth", 2)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="vpn-ok.png").click(modifiers=["Alt"])
    assert download_info.value.path().read_bytes() == screenshot
    desk.screenshot("reply-by-mail-threaded")
    assert len(imap_server.messages("Handled")) == 2
