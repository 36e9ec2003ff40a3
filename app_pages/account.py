"""Your account: who you are signed in as, a new password (which ends your other sessions at
once), which notification mails you get, and API tokens (made here, shown once; admins also
see and revoke everyone's)."""

from __future__ import annotations

import streamlit as st

from app_components import keys, notices
from app_components.session import engine, now, page_errors, session_token, signed_in
from app_components.text import escape_markdown
from ticketdesk.domain.accounts import PASSWORD_MIN_CHARS, Action
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.domain.notifications import DESCRIPTIONS, NoticeKind
from ticketdesk.services import accounts as account_service
from ticketdesk.services import notifications as notification_service
from ticketdesk.services import tokens as token_service

# This page's own widget keys (the API token form and the token shown once).
TOKEN_NAME = "api_token_name"  # noqa: S105 (state keys, not secrets)
TOKEN_DAYS = "api_token_days"  # noqa: S105
TOKEN_READ_ONLY = "api_token_read_only"  # noqa: S105
TOKEN_SHOWN_ONCE = "api_token_shown_once"  # noqa: S105


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
    notification_form()


def create_token() -> None:
    """Form callback: make a token; it is shown once, on the next run."""
    state = st.session_state
    try:
        made = token_service.create_token(
            engine(),
            signed_in(),
            state[TOKEN_NAME],
            int(state[TOKEN_DAYS]),
            bool(state[TOKEN_READ_ONLY]),
            now(),
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc), place="tokens")
        return
    state[TOKEN_NAME] = ""
    state[TOKEN_SHOWN_ONCE] = made.token
    notices.push(
        "success",
        f"Token “{made.info.name}” made. Copy it now: it is shown only this once.",
        place="tokens",
    )


def revoke_token(token_id: int) -> None:
    try:
        gone = token_service.revoke_token(engine(), signed_in(), token_id)
    except TicketDeskError as exc:
        notices.push("error", str(exc), place="tokens")
        return
    notices.push("success", f"Token “{gone.name}” of {gone.account_name} revoked.", place="tokens")


def _when(at: object) -> str:
    return "never" if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


with page_errors():
    st.subheader("API tokens")
    st.caption(
        "For scripts and other systems: `Authorization: Bearer <token>` on /api/v1 "
        "([docs](/api/v1/docs)). A token acts as you; only its hash is kept."
    )
    notices.show("tokens")
    shown = st.session_state.pop(TOKEN_SHOWN_ONCE, None)
    if shown:
        st.code(shown, language=None)
    with st.form("api_token"):
        st.text_input("Name", key=TOKEN_NAME, max_chars=token_service.NAME_MAX_CHARS)
        st.number_input(
            "Valid for (days)",
            min_value=1,
            max_value=token_service.MAX_DAYS,
            value=90,
            step=1,
            key=TOKEN_DAYS,
        )
        st.checkbox("Read-only", key=TOKEN_READ_ONLY)
        st.form_submit_button("Make token", on_click=create_token)
    me = signed_in()
    listed = (
        token_service.all_tokens(engine(), me)
        if me.may(Action.MANAGE_ACCOUNTS)
        else token_service.my_tokens(engine(), me)
    )
    if not listed:
        st.caption("No tokens yet.")
    for info in listed:
        owner = "" if info.account_id == me.id else f" · of {escape_markdown(info.account_name)}"
        scope = "read-only" if info.read_only else "read and write"
        left, right = st.columns([5, 1])
        left.markdown(
            f"**{escape_markdown(info.name)}**{owner} · {scope} · "
            f"expires {_when(info.expires_at)} · last used {_when(info.last_used_at)}"
        )
        right.button(
            "Revoke", key=f"revoke_token_{info.id}", on_click=revoke_token, args=(info.id,)
        )
