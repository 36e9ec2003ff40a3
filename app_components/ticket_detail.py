"""One ticket's view: its text, status, priority and assignee (editable by staff), the
conversation with a reply box, its targets and its history."""

from __future__ import annotations

import streamlit as st

from app_components import attachments, keys, notices, session
from app_components.mail_originals import show_originals
from app_components.session import when
from app_components.text import escape_markdown, safe_message
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
from ticketdesk.services import live as live_service
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


def save_fields(ticket: Ticket) -> None:
    """Form callback: status, priority and assignee, refused if the ticket moved on. The
    assignee is sent only when it changed: a ticket may stay with someone who is no longer
    an active agent, and then its status must still be changeable."""
    state = st.session_state
    chosen = state[keys.DETAIL_ASSIGNEE]
    reassigned = chosen != (ticket.assignee or UNASSIGNED)
    change = TicketChange(
        status=state[keys.DETAIL_STATUS],
        priority=state[keys.DETAIL_PRIORITY],
        assignee=chosen if reassigned and chosen != UNASSIGNED else None,
        unassign=reassigned and chosen == UNASSIGNED,
    )
    try:
        ticket_service.update_ticket(
            session.engine(), session.signed_in(), ticket.id, change, session.now(), ticket.version
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc))
    else:
        notices.push("success", "Saved.")
    for key in (keys.DETAIL_STATUS, keys.DETAIL_PRIORITY, keys.DETAIL_ASSIGNEE):
        state.pop(key, None)  # show what the database holds now


def send_message(ticket: Ticket) -> None:
    """Form callback: add the message; keep the text if it was refused."""
    state = st.session_state
    # None: a click on the chosen kind unselected it (in a page drawn before the control was
    # `required`, or from a forged message); the kind stays the one the form showed.
    kind = state.get(keys.MESSAGE_KIND) or state[keys.MESSAGE_KIND_SHOWN]
    state[keys.MESSAGE_KIND] = kind
    files = attachments.chosen(keys.MESSAGE_FILES)
    try:
        ticket_service.add_message(
            session.engine(),
            session.signed_in(),
            ticket.id,
            kind,
            state[keys.MESSAGE_BODY],
            session.now(),
            files,
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    state[keys.MESSAGE_BODY] = ""
    attachments.forget(keys.MESSAGE_FILES)
    notices.push("success", f"{KINDS[MessageKind(kind)]} added.{attachments.attached(files)}")


def show_message(message: Message, detail: ticket_service.TicketDetail, by: Account) -> None:
    name = message.author or "Someone"
    with st.chat_message(name, avatar=AVATARS[message.kind]):
        label = KINDS[message.kind]
        if message.internal:
            st.badge(
                f"{label}: not visible to the requester", icon=":material/lock:", color="orange"
            )
        st.caption(f"{escape_markdown(name)} · {label} · {when(message.created_at)}")
        # Markdown, never raw HTML (Streamlit escapes it), and no images: each reader's
        # browser would fetch them from wherever they point.
        st.markdown(safe_message(message.body))
        attachments.show_files(detail.files_of(message.id), by)


def render_detail(code: str) -> None:
    by = session.signed_in()
    back = "All tickets" if by.is_staff else "My tickets"
    st.button(back, icon=":material/arrow_back:", on_click=back_to_list, type="tertiary")
    try:
        detail = ticket_service.ticket_detail(session.engine(), by, code)
    except (ValidationError, TicketNotFound, PermissionDenied) as exc:
        st.error(escape_markdown(str(exc)), icon=":material/search_off:")
        return
    ticket = detail.ticket
    session.remember_revision(detail.revision, live_service.watch_ticket(detail))
    st.title(f"{ticket.code}")
    # Internal notes move the version too: shown only to those who read notes (staff, whose
    # Save form checks it); a requester's last change is the latest she may see.
    version = f" · version {ticket.version}" if by.may(Action.READ_NOTES) else ""
    st.caption(
        f"Filed by {escape_markdown(ticket.requester or 'someone')} on "
        f"{when(ticket.created_at)} · "
        f"last change {when(ticket.updated_at)}{version}"
    )
    notices.show()

    main, side = st.columns([2, 1], gap="large")
    with main:
        with st.container(border=True):
            st.text(ticket.issue)
            attachments.show_files(detail.files_of(None), by)
        st.subheader("Conversation")
        if not detail.messages:
            st.caption("No messages yet.")
        for message in detail.messages:
            show_message(message, detail, by)
        show_originals(ticket.id, by, detail.messages)  # staff: the mails it came from
        with st.form("reply"):
            st.text_area(
                "Message",
                key=keys.MESSAGE_BODY,
                help=f"Markdown; up to {MESSAGE_MAX_CHARS:,} characters.",
            )
            kinds = [MessageKind.REPLY, MessageKind.NOTE] if by.is_staff else [MessageKind.MESSAGE]
            shown = st.segmented_control(
                "Kind",
                kinds,
                format_func=KINDS.__getitem__,
                default=kinds[0],
                required=True,  # a click on the chosen kind would otherwise unselect it
                key=keys.MESSAGE_KIND,
                disabled=len(kinds) == 1,
            )
            st.session_state[keys.MESSAGE_KIND_SHOWN] = shown or kinds[0]
            attachments.uploader(keys.MESSAGE_FILES)
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
        st.selectbox(
            "Status", STATUSES, index=STATUSES.index(ticket.status), key=keys.DETAIL_STATUS
        )
        st.selectbox(
            "Priority",
            PRIORITIES,
            index=PRIORITIES.index(ticket.priority),
            key=keys.DETAIL_PRIORITY,
        )
        names = [a.name for a in account_service.staff(session.engine(), by)]
        if ticket.assignee and ticket.assignee not in names:
            names.append(ticket.assignee)  # assigned to someone no longer active
        options = [UNASSIGNED, *names]
        st.selectbox(
            "Assignee",
            options,
            index=options.index(ticket.assignee) if ticket.assignee else 0,
            key=keys.DETAIL_ASSIGNEE,
            help="Agents and admins with an active account.",
        )
        st.form_submit_button("Save", on_click=save_fields, args=(ticket,))


def show_targets_and_history(detail: ticket_service.TicketDetail) -> None:
    ticket = detail.ticket
    state = ticket_service.sla_of(ticket, detail.targets, session.now())
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
