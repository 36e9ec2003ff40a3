"""For staff on a ticket's page: the mails the ticket's text and messages came from, exactly
as received (headers and all), opened on request. Not a page of its own: ticket_detail.py
calls `show_originals`."""

from __future__ import annotations

import streamlit as st

from app_pages.shared import engine
from ticketdesk.domain.accounts import Account
from ticketdesk.services import outbox as outbox_service

SHOWN_BYTES = 200_000
"""The start of an original shown on the page (the whole is in the database)."""


def show_originals(ticket_id: int, by: Account) -> None:
    if not by.is_staff:
        return
    originals = outbox_service.originals_for(engine(), by, ticket_id)
    if not originals:
        return
    labels = {
        inbox_id: "The ticket's text" if message_id is None else f"Message {message_id}"
        for message_id, inbox_id in sorted(originals.items(), key=lambda kv: kv[1])
    }
    with st.expander(f"Original mail ({len(labels)})", icon=":material/mail:"):
        chosen = st.selectbox(
            "Came by mail", list(labels), format_func=labels.__getitem__, key="original_mail"
        )
        if chosen is not None:
            raw = outbox_service.original_mail(engine(), by, chosen)
            st.code(raw[:SHOWN_BYTES].decode("utf-8", "replace"), language=None)
