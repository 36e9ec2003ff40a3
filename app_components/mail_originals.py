"""For staff on a ticket's page: the mails the ticket's text and messages came from, exactly
as received (headers and all), opened on request. Not a page of its own: ticket_detail.py
calls `show_originals`."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app_components.session import engine
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import Message
from ticketdesk.services import outbox as outbox_service

SHOWN_BYTES = 200_000
"""The start of an original shown on the page (the whole is in the database)."""


def show_originals(ticket_id: int, by: Account, messages: Sequence[Message]) -> None:
    if not by.is_staff:
        return
    originals = outbox_service.originals_for(engine(), by, ticket_id)
    if not originals:
        return
    named = {m.id: m for m in messages}

    def label(message_id: int | None) -> str:
        if message_id is None:
            return "The ticket's text"
        message = named.get(message_id)
        if message is None:
            return f"Message {message_id}"
        return f"{message.author or 'Someone'}, {message.created_at:%Y-%m-%d %H:%M} UTC"

    labels = {
        inbox_id: label(message_id)
        for message_id, inbox_id in sorted(originals.items(), key=lambda kv: kv[1])
    }
    with st.expander(f"Original mail ({len(labels)})", icon=":material/mail:"):
        chosen = st.selectbox(
            "Came by mail", list(labels), format_func=labels.__getitem__, key="original_mail"
        )
        if chosen is not None:
            raw = outbox_service.original_mail(engine(), by, chosen)
            st.code(raw[:SHOWN_BYTES].decode("utf-8", "replace"), language=None)
