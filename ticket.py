"""Ticket desk: `streamlit run ticket.py`.

Streamlit imports this file to find `app` (the ASGI server with our extra HTTP routes) and
runs it as the app's script, where `__name__` is "__main__", for every browser session."""

import streamlit as st

TICKETS_ICON = ":material/confirmation_number:"

if __name__ == "__main__":
    # An emoji favicon: a Material one is fetched from a font server, which an internal
    # network may not reach (a console error on every page load).
    st.set_page_config(page_title="Ticket desk", page_icon="🎫", layout="wide")
    navigation = st.navigation(
        [
            st.Page("app_pages/tickets.py", title="Tickets", icon=TICKETS_ICON, default=True),
            st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
            st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
        ]
    )
    navigation.run()
else:
    from ticketdesk.web import routes

    app = st.App("ticket.py", routes=routes())
