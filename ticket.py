"""Ticket desk: `streamlit run ticket.py`."""

import streamlit as st

TICKETS_ICON = ":material/confirmation_number:"

st.set_page_config(page_title="Ticket desk", page_icon=TICKETS_ICON, layout="wide")

navigation = st.navigation(
    [
        st.Page("app_pages/tickets.py", title="Tickets", icon=TICKETS_ICON, default=True),
        st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
    ]
)
navigation.run()
