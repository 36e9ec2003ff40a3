"""One ticket's page: its text, status, priority and assignee (editable), the conversation
with a reply box, and the history. Reached from the list or by URL (?ticket=TICKET-1042)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from app_pages.mail_originals import show_originals
from app_pages.shared import (
    browser_timezone,
    engine,
    escape_markdown,
    now,
    remember_revision,
    signed_in,
)
from ticketdesk.domain.accounts import Account, Action, PermissionDenied
from ticketdesk.domain.errors import TicketDeskError, TicketNotFound, ValidationError
from ticketdesk.domain.tickets import (
    MESSAGE_MAX_CHARS,
    PRIORITIES,
    STATUSES,
    Message,
    MessageKind,
    Ticket,
    TicketChange,
)
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service

KINDS = {
    MessageKind.REPLY: "Public reply",
    MessageKind.NOTE: "Internal note",
    MessageKind.MESSAGE: "Requester's message",
}
AVATARS = {
    MessageKind.REPLY: ":material/support_agent:",
    MessageKind.NOTE: ":material/lock:",
    MessageKind.MESSAGE: ":material/person:",
}
UNASSIGNED = "Unassigned"


def back_to_list() -> None:
    st.query_params.clear()


def when(moment: datetime) -> str:
    return moment.astimezone(browser_timezone()).strftime("%Y-%m-%d %H:%M")


def save_fields(ticket: Ticket) -> None:
    """Form callback: status, priority and assignee, refused if the ticket moved on."""
    state = st.session_state
    chosen = state.detail_assignee
    change = TicketChange(
        status=state.detail_status,
        priority=state.detail_priority,
        assignee=None if chosen == UNASSIGNED else chosen,
        unassign=chosen == UNASSIGNED,
    )
    try:
        ticket_service.update_ticket(
            engine(), signed_in(), ticket.id, change, now(), ticket.version
        )
    except TicketDeskError as exc:
        state.detail_flash = ("error", str(exc))
    else:
        state.detail_flash = ("saved", "Saved.")
    for key in ("detail_status", "detail_priority", "detail_assignee"):
        state.pop(key, None)  # show what the database holds now


def send_message(ticket: Ticket) -> None:
    """Form callback: add the message; keep the text if it was refused."""
    state = st.session_state
    try:
        ticket_service.add_message(
            engine(), signed_in(), ticket.id, state.message_kind, state.message_body, now()
        )
    except TicketDeskError as exc:
        state.detail_flash = ("error", str(exc))
        return
    state.message_body = ""
    state.detail_flash = ("saved", f"{KINDS[MessageKind(state.message_kind)]} added.")


def show_message(message: Message) -> None:
    name = message.author or "Someone"
    with st.chat_message(name, avatar=AVATARS[message.kind]):
        label = KINDS[message.kind]
        if message.internal:
            st.badge(
                f"{label}: not visible to the requester", icon=":material/lock:", color="orange"
            )
        st.caption(f"{name} · {label} · {when(message.created_at)}")
        st.markdown(message.body)  # Markdown, never raw HTML: Streamlit escapes it


def render_detail(code: str) -> None:
    by = signed_in()
    back = "All tickets" if by.is_staff else "My tickets"
    st.button(back, icon=":material/arrow_back:", on_click=back_to_list, type="tertiary")
    try:
        detail = ticket_service.ticket_detail(engine(), by, code)
    except (ValidationError, TicketNotFound, PermissionDenied) as exc:
        st.error(str(exc), icon=":material/search_off:")
        return
    ticket = detail.ticket
    remember_revision(detail.revision)
    st.title(f"{ticket.code}")
    st.caption(
        f"Filed by {ticket.requester or 'someone'} on {when(ticket.created_at)} · "
        f"last change {when(ticket.updated_at)} · version {ticket.version}"
    )
    flash = st.session_state.pop("detail_flash", None)
    if flash:
        (st.error if flash[0] == "error" else st.success)(flash[1])

    main, side = st.columns([2, 1], gap="large")
    with main:
        with st.container(border=True):
            st.text(ticket.issue)
        st.subheader("Conversation")
        if not detail.messages:
            st.caption("No messages yet.")
        for message in detail.messages:
            show_message(message)
        show_originals(ticket.id, by, detail.messages)  # staff: the mails it came from
        with st.form("reply"):
            st.text_area(
                "Message",
                key="message_body",
                help=f"Markdown; up to {MESSAGE_MAX_CHARS:,} characters.",
            )
            kinds = [MessageKind.REPLY, MessageKind.NOTE] if by.is_staff else [MessageKind.MESSAGE]
            st.segmented_control(
                "Kind",
                kinds,
                format_func=KINDS.__getitem__,
                default=kinds[0],
                key="message_kind",
                disabled=len(kinds) == 1,
            )
            st.form_submit_button("Send", on_click=send_message, args=(ticket,), type="primary")
    with side:
        if by.may(Action.EDIT_TICKET):
            ticket_fields(ticket, by)
        else:
            st.markdown(f"**Status:** {ticket.status}  \n**Priority:** {ticket.priority}")
            st.markdown(f"**Assigned to:** {escape_markdown(ticket.assignee or 'nobody yet')}")
        show_targets_and_history(detail)


def ticket_fields(ticket: Ticket, by: Account) -> None:
    """Status, priority and assignee, for the people who work tickets."""
    with st.form("fields"):
        st.selectbox("Status", STATUSES, index=STATUSES.index(ticket.status), key="detail_status")
        st.selectbox(
            "Priority",
            PRIORITIES,
            index=PRIORITIES.index(ticket.priority),
            key="detail_priority",
        )
        names = [a.name for a in account_service.staff(engine(), by)]
        if ticket.assignee and ticket.assignee not in names:
            names.append(ticket.assignee)  # assigned to someone no longer active
        options = [UNASSIGNED, *names]
        st.selectbox(
            "Assignee",
            options,
            index=options.index(ticket.assignee) if ticket.assignee else 0,
            key="detail_assignee",
            help="Agents and admins with an active account.",
        )
        st.form_submit_button("Save", on_click=save_fields, args=(ticket,))


def show_targets_and_history(detail: ticket_service.TicketDetail) -> None:
    ticket = detail.ticket
    state = ticket_service.sla_of(ticket, detail.targets, now())
    st.subheader("Targets")
    for name, clock in (
        ("First response", state.first_response),
        ("Resolution", state.resolution),
    ):
        colour = {"met": "green", "breached": "red"}.get(clock.outcome, "blue")
        st.markdown(f"{name}: :{colour}-badge[{clock.label}]")
        st.caption(f"due {when(clock.due)}")
    st.subheader("History")
    for change in reversed(detail.history):
        st.text(f"{when(change.occurred_at)}  {change.describe()}")
