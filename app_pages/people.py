"""People (admins): the accounts, a form to add one, and for each one its role, whether it
may sign in, a new password, and "unlock" (forget its failed sign-ins, so that nobody has to
wait any more to sign in to it). Passwords are generated and shown once."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_components import keys, notices
from app_components.session import engine, now, page_errors, signed_in
from app_components.text import escape_markdown
from ticketdesk.domain.accounts import ROLES
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import accounts as account_service

SIGN_IN_WAYS = {"password": "Generated password", "sso": "Single sign-on only"}


def add_account() -> None:
    """Form callback: create the account; keep what was typed if it was refused."""
    state = st.session_state
    password = account_service.generate_password() if state[keys.NEW_WAY] == "password" else None
    try:
        made = account_service.create_account(
            engine(),
            signed_in(),
            state[keys.NEW_EMAIL],
            state[keys.NEW_NAME],
            state[keys.NEW_ROLE],
            password,
            now(),
        )
    except TicketDeskError as exc:
        notices.push("error", str(exc))
        return
    state[keys.NEW_EMAIL] = state[keys.NEW_NAME] = ""
    shown = f" Their password, shown only now: `{password}`" if password else ""
    notices.push(
        "success",
        f"Account made for {escape_markdown(made.name)} ({made.role}).{shown}",
        markdown=True,
    )


def change(account_id: int, what: str) -> None:
    """Button callback for one account: role, (de)activation, unlock or a new password. The
    account is read afresh: the one drawn may be a run old."""
    by, state = signed_in(), st.session_state
    try:
        account = next(a for a in account_service.list_accounts(engine(), by) if a.id == account_id)
        if what == "role":
            role = state[keys.person_role(account_id)]
            changed = account_service.set_role(engine(), by, account_id, role)
            notices.push("success", f"{changed.name} is now {changed.role}.")
        elif what == "active":
            changed = account_service.set_active(engine(), by, account_id, not account.active)
            done = "may sign in again" if changed.active else "is signed out and may not sign in"
            notices.push("success", f"{changed.name} {done}.")
        elif what == "unlock":
            forgotten = account_service.unlock_sign_in(engine(), by, account_id)
            notices.push(
                "success",
                f"{account.name}'s {forgotten} failed sign-in(s) are forgotten: "
                "nobody has to wait to sign in to their account."
                if forgotten
                else f"{account.name} had no failed sign-ins to forget.",
            )
        else:
            password = account_service.reset_password(engine(), by, account_id)
            notices.push(
                "success",
                f"{escape_markdown(account.name)}'s new password, shown only now: "
                f"`{password}`. Their sessions have ended.",
                markdown=True,
            )
    except StopIteration:
        notices.push("error", "That account no longer exists.")
    except TicketDeskError as exc:
        notices.push("error", str(exc))


st.title(":material/group: People")
with page_errors():
    people = account_service.list_accounts(engine(), signed_in())
    notices.show()
    st.dataframe(
        pd.DataFrame(
            {
                "Name": [a.name for a in people],
                "Email": [a.email for a in people],
                "Role": [a.role.value for a in people],
                "Active": [a.active for a in people],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    left, right = st.columns(2, gap="large")
    with left, st.form("add_account"):
        st.subheader("Add a person")
        st.text_input("Name", key=keys.NEW_NAME, max_chars=100)
        st.text_input("Email", key=keys.NEW_EMAIL, max_chars=254)
        st.selectbox("Role", ROLES, key=keys.NEW_ROLE)
        st.radio(
            "Signs in with", list(SIGN_IN_WAYS), format_func=SIGN_IN_WAYS.get, key=keys.NEW_WAY
        )
        st.form_submit_button("Add", on_click=add_account, type="primary")
    with right:
        st.subheader("Change an account")
        by_id = {a.id: a for a in people}
        chosen_id = st.selectbox(
            "Account",
            list(by_id),
            format_func=lambda i: f"{by_id[i].name} <{by_id[i].email}>",
            key=keys.PERSON,
        )
        chosen = by_id.get(chosen_id) if chosen_id is not None else None
        if chosen is not None:
            role_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
            role_col.selectbox(
                "Role", ROLES, index=ROLES.index(chosen.role), key=keys.person_role(chosen.id)
            )
            button_col.button("Set role", on_click=change, args=(chosen.id, "role"))
            st.button(
                "Deactivate (ends their sessions)" if chosen.active else "Reactivate",
                on_click=change,
                args=(chosen.id, "active"),
            )
            st.button(
                "Unlock (forget failed sign-ins)",
                on_click=change,
                args=(chosen.id, "unlock"),
                help="Someone who is told to wait after too many failed sign-ins can try "
                "again at once.",
            )
            st.button(
                "New password (ends their sessions)",
                on_click=change,
                args=(chosen.id, "password"),
            )
