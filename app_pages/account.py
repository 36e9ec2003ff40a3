"""Your account: who you are signed in as, and a new password (which ends your other
sessions at once)."""

from __future__ import annotations

import streamlit as st

from app_pages.shared import engine, escape_markdown, now, page_errors, session_token, signed_in
from ticketdesk.domain.accounts import PASSWORD_MIN_CHARS
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import accounts as account_service


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
