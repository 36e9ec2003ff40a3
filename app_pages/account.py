"""Your account: who you are signed in as, and a new password (which ends your other
sessions at once)."""

from __future__ import annotations

import streamlit as st

from app_components import keys, notices
from app_components.session import engine, now, page_errors, session_token, signed_in
from app_components.text import escape_markdown
from ticketdesk.domain.accounts import PASSWORD_MIN_CHARS
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import accounts as account_service


def change_password() -> None:
    """Form callback: check the current password, store the new one."""
    state = st.session_state
    if state[keys.NEW_PASSWORD] != state[keys.REPEAT_PASSWORD]:
        notices.push("error", "The two new passwords differ; nothing was changed.")
        return
    try:
        account_service.change_own_password(
            engine(),
            session_token() or "",
            state[keys.CURRENT_PASSWORD],
            state[keys.NEW_PASSWORD],
            now(),
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    for key in (keys.CURRENT_PASSWORD, keys.NEW_PASSWORD, keys.REPEAT_PASSWORD):
        state[key] = ""
    notices.push(
        "success",
        "Password changed. Your other sessions (other browsers, other devices) are signed out.",
    )


st.title(":material/person: Your account")
with page_errors():
    me = signed_in()
    st.markdown(f"**{escape_markdown(me.name)}** · {escape_markdown(me.email)} · {me.role}")
    st.subheader("Change your password")
    notices.show()
    with st.form("password"):
        st.text_input("Current password", type="password", key=keys.CURRENT_PASSWORD)
        st.text_input(
            "New password",
            type="password",
            key=keys.NEW_PASSWORD,
            help=f"At least {PASSWORD_MIN_CHARS} characters; a passphrase is best.",
        )
        st.text_input("New password again", type="password", key=keys.REPEAT_PASSWORD)
        st.form_submit_button("Change password", on_click=change_password, type="primary")
