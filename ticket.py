"""Ticket desk: `streamlit run ticket.py`.

Streamlit imports this file to find `app` (the ASGI server with our sign-in routes, the
middleware that requires a session for everything else, the CSV export and the live view's
watcher) and runs it as
the app's script, where `__name__` is "__main__", for every browser session."""

import streamlit as st

TICKETS_ICON = ":material/confirmation_number:"

if __name__ == "__main__":
    from app_components.session import (
        ask_to_sign_in,
        current_account,
        show_identity,
        whole_page_run,
    )
    from ticketdesk.domain.accounts import Action, SessionEnded

    # An emoji favicon: a Material one is fetched from a font server, which an internal
    # network may not reach (a console error on every page load).
    st.set_page_config(page_title="Ticket desk", page_icon="🎫", layout="wide")
    account = current_account()  # the middleware let the browser in; checked again per run
    if isinstance(account, SessionEnded):  # ended meanwhile: no pages, no menu, a way back
        reason = account
        st.navigation(
            [st.Page(lambda: ask_to_sign_in(reason), title="Sign in", url_path="sign-in")],
            position="hidden",
        ).run()
        st.stop()
    tickets_title = "Tickets" if account.is_staff else "My tickets"
    pages = [st.Page("app_pages/tickets.py", title=tickets_title, icon=TICKETS_ICON, default=True)]
    if account.may(Action.VIEW_DASHBOARD):
        pages.append(
            st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitoring:")
        )
    if account.may(Action.MANAGE_ACCOUNTS):
        pages.append(st.Page("app_pages/people.py", title="People", icon=":material/group:"))
    if account.may(Action.CHANGE_SETTINGS):
        pages.append(st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"))
        pages.append(st.Page("app_pages/webhooks.py", title="Webhooks", icon=":material/webhook:"))
    if account.may(Action.MANAGE_ACCOUNTS):
        pages.append(st.Page("app_pages/outbox.py", title="Outbox", icon=":material/outbox:"))
    pages.append(st.Page("app_pages/account.py", title="Your account", icon=":material/person:"))
    navigation = st.navigation(pages)
    show_identity(account)
    with whole_page_run():
        navigation.run()
else:
    from app_components import live
    from ticketdesk import api
    from ticketdesk.web import lifespan, middleware, routes

    # The live view's watcher runs while the server serves: it wakes open pages when what
    # they show changes (app_components/live.py).
    app = st.App(
        "ticket.py",
        lifespan=live.serving(lifespan),
        routes=routes() + api.routes(),
        middleware=middleware(),
    )
