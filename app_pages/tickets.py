"""Tickets: the list, or one ticket's page when the URL names it (?ticket=TICKET-1042)."""

from __future__ import annotations

import streamlit as st

from app_pages.shared import choose_actor, database_errors, engine, follow_changes
from app_pages.ticket_detail import render_detail
from app_pages.ticket_list import render_list

choose_actor()
follow_changes()
code = st.query_params.get("ticket")
if code is None:
    st.title(":material/confirmation_number: Support tickets")
with database_errors():
    engine()
    if code is None:
        render_list()
    else:
        render_detail(code)
