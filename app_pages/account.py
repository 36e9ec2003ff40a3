"""Your account: who you are signed in as, a new password (which ends your other sessions at
once), and which notification mails you get."""

from __future__ import annotations

import streamlit as st

from app_pages.shared import engine, escape_markdown, now, page_errors, session_token, signed_in
from ticketdesk.domain.accounts import PASSWORD_MIN_CHARS
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.domain.notifications import DESCRIPTIONS, NoticeKind
from ticketdesk.services import accounts as account_service
from ticketdesk.services import notifications as notification_service


def change_password() -> None:
    """Form callback: check the current password, store the new one."""
    state = st.session_state
    if state.new_password != state.repeat_password:
        state.password_notice = ("error", "The two new passwords differ; nothing was changed.")
        return
    try:
        account_service.change_own_password(
            engine(), session_token() or "", state.current_password, state.new_password, now()
        )
    except TicketDeskError as exc:
        state.password_notice = ("error", str(exc))
        return
    for key in ("current_password", "new_password", "repeat_password"):
        state[key] = ""
    state.password_notice = (
        "success",
        "Password changed. Your other sessions (other browsers, other devices) are signed out.",
    )


def save_notifications(kinds: list[NoticeKind]) -> None:
    """Form callback: switch each kind of notification mail on or off."""
    state = st.session_state
    wanted = {kind: bool(state[f"notify_{kind.value}"]) for kind in kinds}
    try:
        notification_service.set_preferences(engine(), signed_in(), wanted)
    except TicketDeskError as exc:
        state.notify_notice = ("error", str(exc))
    else:
        state.notify_notice = ("success", "Saved: you get the mails ticked above.")


def notification_form() -> None:
    st.subheader("Mails you get")
    notice = st.session_state.pop("notify_notice", None)
    if notice:
        (st.error if notice[0] == "error" else st.success)(notice[1])
    current = notification_service.preferences(engine(), signed_in())
    with st.form("notifications"):
        for kind, on in current.items():
            st.checkbox(DESCRIPTIONS[kind], value=on, key=f"notify_{kind.value}")
        st.form_submit_button(
            "Save mail settings", on_click=save_notifications, args=(list(current),)
        )


st.title(":material/person: Your account")
with page_errors():
    me = signed_in()
    st.markdown(f"**{escape_markdown(me.name)}** · {escape_markdown(me.email)} · {me.role}")
    st.subheader("Change your password")
    notice = st.session_state.pop("password_notice", None)
    if notice:
        (st.error if notice[0] == "error" else st.success)(notice[1])
    with st.form("password"):
        st.text_input("Current password", type="password", key="current_password")
        st.text_input(
            "New password",
            type="password",
            key="new_password",
            help=f"At least {PASSWORD_MIN_CHARS} characters; a passphrase is best.",
        )
        st.text_input("New password again", type="password", key="repeat_password")
        st.form_submit_button("Change password", on_click=change_password, type="primary")
    notification_form()
