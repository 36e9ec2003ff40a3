"""The text and HTML of the desk's mails, from the Jinja2 templates in
src/ticketdesk/templates/mail/ (`<kind>.txt` and `<kind>.html`, HTML autoescaped: whatever
people typed is shown, never interpreted)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ticketdesk.domain.mail import first_line
from ticketdesk.domain.notifications import NoticeKind

DESK_NAME = "Ticket desk"
FOOTER = "You get this mail from the ticket desk; switch it off under “Your account”."

SUBJECT_PREFIX = {
    NoticeKind.FILED: "Received",
    NoticeKind.REPLY: "Re",
    NoticeKind.CLOSED: "Closed",
    NoticeKind.ASSIGNED: "Assigned to you",
    NoticeKind.REQUESTER_MESSAGE: "Re",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("ticketdesk", "templates/mail"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def ticket_link(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/?ticket={code}"


def render_notice(
    kind: NoticeKind,
    *,
    code: str,
    issue: str,
    priority: str,
    name: str,
    actor: str,
    requester: str,
    body: str,
    base_url: str,
) -> Rendered:
    """A notification about ticket `code`, for the person called `name`."""
    summary = first_line(issue, 60)
    subject = f"{SUBJECT_PREFIX[kind]}: [{code}] {summary}".strip()
    values = {
        "subject": subject,
        "code": code,
        "issue": issue,
        "priority": priority,
        "name": name,
        "actor": actor,
        "requester": requester,
        "body": body,
        "link": ticket_link(base_url, code),
        "desk_name": DESK_NAME,
        "footer": FOOTER,
    }
    env = _environment()
    return Rendered(
        subject,
        env.get_template(f"{kind.value}.txt").render(values),
        env.get_template(f"{kind.value}.html").render(values),
    )


def render_refusal(original_subject: str, desk_address: str) -> Rendered:
    """The one polite answer to a mail from an address without an account (when the desk
    refuses such mail)."""
    subject = f"Not filed: {first_line(original_subject, 60) or '(no subject)'}"
    values = {
        "subject": subject,
        "original_subject": first_line(original_subject, 120) or "(no subject)",
        "desk_name": DESK_NAME,
        "desk_address": desk_address,
        "footer": "This answer was sent automatically; replies to it are not read.",
    }
    env = _environment()
    return Rendered(
        subject,
        env.get_template("refused.txt").render(values),
        env.get_template("refused.html").render(values),
    )
