"""What every page needs: the engine, the clock, the signed-in account (checked against the
database on every run), the sign-out form, error display and the live view that redraws a
page when someone else changed what it shows (app_components.live).

Other components call `session.now()` through the module, so a test that sets the app's
clock (monkeypatch of app_components.session.now) sets it everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st
from sqlalchemy import Engine

from app_components import keys, live
from app_components.live_plan import WAKE_EVERY
from app_components.text import escape_markdown
from ticketdesk.domain.accounts import Account, PermissionDenied, SessionEnded
from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.live import Watch
from ticketdesk.web.engine import SESSION_COOKIE
from ticketdesk.web.engine import engine as process_engine


def now() -> datetime:
    return datetime.now(UTC)


def engine() -> Engine:
    """The process-wide engine (the same one the sign-in middleware and the HTTP routes
    use), migrated on first use."""
    return process_engine()


@contextmanager
def page_errors() -> Iterator[None]:
    """Show a refusal or an unreachable database as a message, never a traceback;
    follow_changes() keeps asking and redraws the page when the database is back."""
    try:
        yield
    except PermissionDenied as exc:
        st.error(escape_markdown(str(exc)), icon=":material/block:")
        st.stop()
    except DatabaseUnavailable:
        st.session_state[keys.DATABASE_DOWN] = True  # follow_changes() said so, keeps asking
        live.showing(None, None)  # woken when the database is back
        st.stop()


def browser_timezone() -> tzinfo:
    name = st.context.timezone
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def when(moment: datetime) -> str:
    """A moment as the browser's clock shows it, to the minute."""
    return moment.astimezone(browser_timezone()).strftime("%Y-%m-%d %H:%M")


def session_token() -> str | None:
    token = st.context.cookies.get(SESSION_COOKIE)
    if isinstance(token, str) and token:
        return token
    kept = st.session_state.get(keys.SESSION_TOKEN)  # AppTest's cookies are a mock object
    return kept if isinstance(kept, str) else None


def current_account() -> Account | SessionEnded:
    """The account of this browser's session, checked against the database on every call
    (one indexed read), so a sign-out, a deactivation or a password change elsewhere takes
    effect at once; or why there is none."""
    try:
        return account_service.session_account(engine(), session_token(), now())
    except SessionEnded as exc:
        return exc
    except DatabaseUnavailable:
        follow_changes()  # says so, and redraws the page when the database is back
        st.stop()


def ask_to_sign_in(reason: SessionEnded) -> None:
    st.warning(escape_markdown(str(reason)), icon=":material/lock:")
    st.link_button("Sign in", "/signin?ended=1", type="primary")


def signed_in() -> Account:
    """current_account(), for pages: without one, the page says so, links to the sign-in
    page and stops."""
    found = current_account()
    if isinstance(found, SessionEnded):
        ask_to_sign_in(found)
        st.stop()
    return found


def show_identity(account: Account) -> None:
    """Who is signed in, and the sign-out button (a form posting to /signout: the session
    ends in the database and the cookie goes)."""
    st.sidebar.markdown(f"Signed in as **{escape_markdown(account.name)}**  \n{account.role}")
    with st.sidebar:
        st.html(sign_out_form(session_token() or ""))


def sign_out_form(token: str) -> str:
    """The sign-out form of the session with this token, with its CSRF token (hex digits)."""
    return SIGN_OUT_FORM.format(csrf=account_service.sign_out_token(token))


SIGN_OUT_FORM = """
<form method="post" action="/signout" style="margin:0">
  <input type="hidden" name="csrf" value="{csrf}">
  <button type="submit" style="background:none;border:1px solid rgba(49,51,63,.2);
    border-radius:8px;padding:.3rem .8rem;cursor:pointer;font:inherit;color:inherit">
    Sign out</button>
</form>
"""


@contextmanager
def whole_page_run() -> Iterator[None]:
    """Marks a run of the whole page (ticket.py wraps the page in it), as opposed to a rerun
    of one fragment: follow_changes() must not ask for another full run from inside one."""
    st.session_state[keys.WHOLE_PAGE_RUN] = True
    try:
        yield
    finally:  # also when the page stops early (st.stop) or asks for a rerun
        st.session_state[keys.WHOLE_PAGE_RUN] = False


def remember_revision(revision: int, watch: Watch | None = None, every: float = WAKE_EVERY) -> None:
    """The desk revision this page was drawn from, and what it shows (services.live; None:
    anything any change may change), at most redrawn every `every` seconds: follow_changes()
    and the live view compare against them. Called inside a fragment (the Tickets table), a
    change of what it shows reruns that fragment alone, which must read it again and call
    this again; called outside any, a change reruns the whole page (app_components.live)."""
    st.session_state[keys.SEEN_REVISION] = revision
    live.showing(revision, watch, every)


def follow_changes() -> None:
    """Redraw the page when someone else changed what it shows, or when the database is back
    after an outage (saying so while it is away, at the top of the page); the session is
    checked too (signed out elsewhere, deactivated). Pages call it first.

    With the server's live view (app_components.live) this costs nothing while nothing
    changes: the fragment runs when the server wakes it. Without (AppTest) it reruns itself
    every live.LIVE_SECONDS, one indexed read each time."""
    if live.running():
        _woken_by_server()
    else:
        _polling()


def _follow() -> None:
    state = st.session_state
    token = session_token()
    try:
        revision = ticket_service.desk_revision(engine())
        account_service.session_account(engine(), token, now())
    except SessionEnded:
        st.rerun(scope="app")  # signed out elsewhere, deactivated...: the page says so
    except DatabaseUnavailable as exc:
        state[keys.DATABASE_DOWN] = True
        live.follow(token, None)  # woken when the database is back
        st.warning(escape_markdown(str(exc)), icon=":material/cloud_off:")
        return
    if state.get(keys.WHOLE_PAGE_RUN):
        # Called at the top of a page that this very run draws, after any callback of the
        # run has written: what follows shows the desk as it is now. (Asking for another full
        # run here redrew the page twice after each of one's own submits.)
        state.pop(keys.DATABASE_DOWN, None)
        state[keys.SEEN_REVISION] = revision
        live.follow(token, revision)  # until the page says what it shows
        return
    if state.pop(keys.DATABASE_DOWN, False):
        st.rerun(scope="app")
    seen = state.get(keys.SEEN_REVISION)
    if seen is not None and revision != seen:
        state[keys.SEEN_REVISION] = revision  # the rerun draws it (and notes what it drew)
        st.rerun(scope="app")


_woken_by_server = st.fragment(_follow)
_polling = st.fragment(run_every=live.LIVE_SECONDS)(_follow)
