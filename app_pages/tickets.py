"""Tickets: the list, or one ticket's page when the URL names it (?ticket=TICKET-1042)."""

from __future__ import annotations

import streamlit as st

from app_pages.shared import engine, follow_changes, page_errors, signed_in
from app_pages.ticket_detail import render_detail
from app_pages.ticket_list import render_list

follow_changes()
code = st.query_params.get("ticket")
if code is None:
    title = "Support tickets" if signed_in().is_staff else "My tickets"
    st.title(f":material/confirmation_number: {title}")
with page_errors():
    engine()
    if code is None:
        render_list()
    else:
        render_detail(code)
