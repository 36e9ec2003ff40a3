"""Outbox (admins): every mail the desk sends, with its state (queued, sending, sent, failed
with the server's reason) and a retry for the failed ones; the received mail that was ignored
(auto-replies, bounces, lists) or rejected (malformed, too large, refused senders), with the
reason; and the mail settings. See docs/email.md."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from app_components import notices
from app_components.session import browser_timezone, engine, now, page_errors, signed_in
from ticketdesk.config import mail_config
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.domain.mail import InboundOutcome, MailState
from ticketdesk.domain.notifications import UnassignedPolicy
from ticketdesk.domain.tickets import ticket_code
from ticketdesk.services import notifications as notification_service
from ticketdesk.services import outbox as outbox_service

STATE_LABELS = {
    MailState.QUEUED: "Queued",
    MailState.SENDING: "Sending",
    MailState.SENT: "Sent",
    MailState.FAILED: "Failed",
}
UNKNOWN_LABELS = {
    notification_service.UnknownSenders.CREATE: "Create a requester account (no password) and "
    "file the ticket",
    notification_service.UnknownSenders.REFUSE: "Refuse, with one polite automatic answer",
}
UNASSIGNED_LABELS = {
    UnassignedPolicy.NOBODY: "Nobody",
    UnassignedPolicy.ALL_AGENTS: "Every agent and admin",
}


def when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(browser_timezone()).strftime("%Y-%m-%d %H:%M:%S")


def retry(outbox_id: int) -> None:
    try:
        outbox_service.retry(engine(), signed_in(), outbox_id, now())
    except TicketDeskError as exc:
        notices.push("error", str(exc))
    else:
        notices.push("success", "Queued again; it goes out in a moment.")


def save_settings() -> None:
    state = st.session_state
    try:
        notification_service.save_mail_settings(
            engine(),
            signed_in(),
            notification_service.MailSettings(state.mail_unknown, state.mail_unassigned),
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc))
    else:
        notices.push("success", "Mail settings saved.")


def delivery_banner() -> None:
    try:
        config = mail_config()
    except ValueError as exc:
        st.error(f"Mail is misconfigured: {exc}", icon=":material/error:")
        return
    if config.smtp is None:
        st.info(
            "**Nothing is sent**: `TICKETDESK_SMTP_URL` is not set. The outbox still fills, "
            "so this page shows what would have gone out. See docs/email.md.",
            icon=":material/outbox:",
        )
    else:
        st.caption(
            f"Sending through {config.smtp.redacted()} as {config.address}; links point to "
            f"{config.base_url}."
        )
    st.caption(
        "Fetching mail from "
        + (config.imap.redacted() if config.imap else "nowhere (`TICKETDESK_IMAP_URL` unset)")
        + f"; larger mails than {config.max_bytes / 1e6:.0f} MB are rejected."
    )
    status = outbox_service.fetch_status(engine())
    if config.imap is not None and status:
        st.caption(f"The mailbox, last: {status}")


def show_outbox() -> None:
    choices = ["All", *(STATE_LABELS[state] for state in MailState)]
    picked = st.radio("Show", choices, horizontal=True, key="outbox_state")
    shown = next((s for s, label in STATE_LABELS.items() if label == picked), None)
    view = outbox_service.outbox(engine(), signed_in(), shown)
    st.caption(
        " · ".join(f"{STATE_LABELS[state]}: {view.counts[state]:,}" for state in MailState)
        + " (the newest 100 shown)"
    )
    if not view.mails:
        st.caption("No mail here.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Created": when(m.row.created_at),
                    "State": STATE_LABELS[m.row.state],
                    "To": m.row.recipient,
                    "Subject": m.row.subject,
                    "Ticket": ticket_code(m.row.ticket_id) if m.row.ticket_id else "",
                    "Tries": m.row.attempts,
                    "Next try": when(m.row.next_attempt_at)
                    if m.row.state is MailState.QUEUED
                    else "",
                    "Sent": when(m.row.sent_at),
                    "Server's answer": m.row.last_error or "",
                }
                for m in view.mails
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    for mail in view.mails:
        row = mail.row
        if row.state is MailState.FAILED:
            st.button(
                f"Retry the mail to {row.recipient}: {row.subject[:60]}",
                key=f"retry_{row.id}",
                on_click=retry,
                args=(row.id,),
                icon=":material/refresh:",
            )
    with st.expander("Read a mail"):
        chosen = st.selectbox(
            "Mail",
            view.mails,
            format_func=lambda m: f"{when(m.row.created_at)} · {m.row.recipient} · {m.row.subject}",
            key="outbox_read",
        )
        if chosen is not None:
            st.text(
                f"Message-ID: {chosen.row.message_id}\n"
                f"In-Reply-To: {chosen.in_reply_to or '-'}\n"
                f"References: {' '.join(chosen.references) or '-'}"
            )
            st.text(chosen.row.body_text)


def show_rejected() -> None:
    outcomes = (InboundOutcome.REJECTED.value, InboundOutcome.IGNORED.value)
    entries = outbox_service.received_mail(engine(), signed_in(), outcomes)
    if not entries:
        st.caption("No mail was ignored or rejected.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Received": when(e.received_at),
                    "Outcome": "Rejected" if e.outcome == InboundOutcome.REJECTED else "Ignored",
                    "From": e.sender or "",
                    "Subject": e.subject or "",
                    "Reason": e.reason or "",
                    "Size (kB)": round(e.size / 1000),
                    "Via": e.channel,
                }
                for e in entries
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    kept = [e for e in entries if e.kept]
    if kept:
        with st.expander("Open an original"):
            entry = st.selectbox(
                "Mail",
                kept,
                format_func=lambda e: f"{when(e.received_at)} · {e.sender} · {e.subject}",
                key="rejected_read",
            )
            if entry is not None:
                raw = outbox_service.original_mail(engine(), signed_in(), entry.id)
                st.code(raw[:200_000].decode("utf-8", "replace"), language=None)


st.title(":material/outbox: Outbox")
with page_errors():
    me = signed_in()
    notices.show()
    delivery_banner()
    show_outbox()
    st.subheader("Rejected mail")
    st.caption(
        "Mail that filed no ticket: auto-replies, bounces and list mail (ignored, never "
        "answered), and mail that could not be handled (rejected), with the reason."
    )
    show_rejected()
    st.subheader("Mail settings")
    settings = notification_service.mail_settings(engine())
    with st.form("mail_settings"):
        st.radio(
            "Mail from an address without an account",
            list(UNKNOWN_LABELS),
            index=list(UNKNOWN_LABELS).index(settings.unknown_senders),
            format_func=UNKNOWN_LABELS.__getitem__,
            key="mail_unknown",
        )
        st.radio(
            "A requester writes on an unassigned ticket: tell",
            list(UNASSIGNED_LABELS),
            index=list(UNASSIGNED_LABELS).index(settings.notify_unassigned),
            format_func=UNASSIGNED_LABELS.__getitem__,
            key="mail_unassigned",
        )
        st.form_submit_button("Save mail settings", on_click=save_settings)
