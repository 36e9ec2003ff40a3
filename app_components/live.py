"""The live view: open pages redraw when what they show changes, without asking themselves.

One watcher thread per app server (started by the server's lifespan, `serving`) asks the
database for every open page of the server at once, and wakes only the pages whose view
changed (app_components.live_plan has the rules):
- SQLite: it reads the desk revision every TICKETDESK_LIVE_SECONDS (1 s), and the open pages'
  sign-in sessions every 3 times that, in one indexed read each, while any page is open;
- PostgreSQL: it LISTENs for the announcements that every write sends with its commit
  (store.changes), from any app server on the database, and reads at once; it also reads
  every 10 times TICKETDESK_LIVE_SECONDS in case announcements stop (a lost connection is
  reopened every TICKETDESK_LIVE_SECONDS, with a read right after).
A page follows the desk by calling session.follow_changes() (a fragment) at its top, and says
what it shows through session.remember_revision(). Waking a page is a rerun of a fragment,
asked of the page's Streamlit session on the server's event loop, as if the browser had asked
for it:
- when what it shows changed and remember_revision() ran inside a fragment (the Tickets
  table's page, `table_page`), that fragment: it reads its view again and redraws it, and nothing
  else of the page runs;
- otherwise (the dashboard, a ticket's page, a session that ended, the database down or
  back) the live-view fragment: it checks the session and the database and reruns the whole
  page.
The rerun carries an empty set of widget states (AppSession keeps none to send: its
`_client_state` holds the query string, the page and the browser context). Streamlit keeps the
value of every widget a request does not mention (SessionState.on_script_will_rerun moves the
current values to the old state, which the widgets read back as they are drawn), so the
search box, the filters, the sort, the page and the grid's saved edits stay as they were.
Coalesced with a request of the browser's still queued, though, the empty set would win
(Streamlit merges queued requests, the newer one's widget states replacing the older's) and
drop the values that request brings, a search just typed say: so a wake is sent only while no
run of the session is under way or queued, and otherwise waits for its runs to end.

Woken runs are in flight TICKETDESK_LIVE_CONCURRENCY (2) at a time per server, the other
wakes waiting their turn in one line, first come first served (live_plan.WakeQueue). Every
script run is a thread of this one Python process, sharing its GIL: a change to a ticket on
the first page of the list used to wake every page showing it at once (up to 200 table runs),
and a person's own action, a page load, shared the GIL with all of them and took many times
its 0.15 s. Runs a person starts do not come through here and are never held back; on the
contrary, while one is under way no woken run starts (unless none has for a second: the
line's `people_busy`). A storm takes as long in total as before, its pages redrawn one after
the other instead of all together, in the gaps between people's runs. Streamlit says
nothing when a run ends: the line is looked at every RETRY_EVERY (0.02 s) while anything
waits or is in flight, asking each session in flight whether its runs are over, and the
sessions waiting only while there is room.

Streamlit has no public API for a rerun asked by the server (streamlit/streamlit#2838): this
uses `Runtime.instance().get_app_session(id).request_rerun(ClientState)`, the call the
browser's own rerun requests go through, with the page's query string, page and browser
context as its latest run saw them. Without the watcher (AppTest: no server, no lifespan)
follow_changes() is a fragment that reruns itself every TICKETDESK_LIVE_SECONDS instead,
which is also how every page followed the desk before."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from app_components.live_plan import (
    WAKE_EVERY,
    Activity,
    Follower,
    Plan,
    Reason,
    WakeQueue,
    to_wake,
)
from ticketdesk.domain.errors import DatabaseUnavailable
from ticketdesk.services import accounts as account_service
from ticketdesk.services import live as live_service
from ticketdesk.services.live import Watch
from ticketdesk.store.changes import Listener
from ticketdesk.web.engine import engine as process_engine

LIVE_SECONDS = float(os.environ.get("TICKETDESK_LIVE_SECONDS", "1"))
"""How often the server reads the desk revision (SQLite; PostgreSQL is told at once)."""
SESSIONS_EVERY = 3 * LIVE_SECONDS
"""How often the server checks its open pages' sign-in sessions (SQLite)."""
FALLBACK_EVERY = 10 * LIVE_SECONDS
"""PostgreSQL: how often the server reads anyway, should announcements stop coming."""
PRUNE_EVERY = 10.0
GONE_AFTER = 300.0
"""A page whose browser went away is forgotten after this long (Streamlit keeps its session
for a reconnect meanwhile)."""
IDLE_WAIT = 60.0
WAKE_CONCURRENCY = max(1, int(os.environ.get("TICKETDESK_LIVE_CONCURRENCY", "2")))
"""How many woken runs may be in flight at once in this server (the others wait their turn)."""
RETRY_EVERY = 0.02
"""How often the wakes waiting are looked at again while any waits or is in flight (seconds):
whether the runs in flight ended, whether the sessions waiting are idle."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where a fragment of a page is (its live-view fragment, or the part that draws what it
    shows), to rerun it: what the browser would send."""

    session: str
    fragment: str
    page: str  # the page script's hash
    query: str
    context: Any  # the browser's ContextInfo (timezone, locale...), or None


class Watcher:
    """The thread that watches the database for the open pages of this server."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        wake: Callable[[Follower, Reason], None],
        reachable: Callable[[Follower], bool],
    ) -> None:
        self.plan = Plan()
        self._engine = engine
        self._wake = wake
        self._reachable = reachable
        self._stop = threading.Event()
        self._followed = threading.Event()  # set when a page follows: the thread may be idle
        self._away_since: dict[str, float] = {}
        self._listener: Listener | None = None  # PostgreSQL
        # When the next read of the revision and of the sessions is due, the next attempt to
        # listen, the next look for pages gone (monotonic seconds):
        self._next_desk = self._next_sessions = self._next_listen = self._next_prune = 0.0
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._followed.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end (after stop(): at the end of its current pass)."""
        self._thread.join(timeout)

    def follow(self, follower: Follower) -> None:
        self.plan.follow(follower)
        self._followed.set()

    # -- the thread

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                if not self.plan.followers():  # no open page: no reads at all
                    self._close_listener()  # nor announcements queued up for nobody
                    self._followed.wait(IDLE_WAIT)
                    self._followed.clear()
                    continue
                try:
                    self._step()
                except Exception:  # a bug, not the database: say so, and carry on
                    log.exception("the live view failed; trying again")
                    self._close_listener()
                    self._stop.wait(LIVE_SECONDS)
        finally:
            self._close_listener()

    def _step(self) -> None:
        """Wait for the next thing to do (a read due, an announcement, a wake due), do it."""
        try:
            engine = self._engine()
        except DatabaseUnavailable:  # not even connected once yet
            self.plan.database_down()
            self._stop.wait(LIVE_SECONDS)
            return
        postgres = engine.dialect.name == "postgresql"
        now = time.monotonic()
        heard: set[str] = set()
        if postgres and self._listener is None and now >= self._next_listen:
            self._next_listen = now + LIVE_SECONDS
            with contextlib.suppress(DatabaseUnavailable):  # the read below says what is up
                self._listener = live_service.listen(engine)
                heard = {live_service.DESK, live_service.SESSIONS}  # missed while not listening
        if not heard:
            due = [self._next_desk, self._next_sessions, self._next_prune, self.plan.next_due()]
            if postgres and self._listener is None:
                due.append(self._next_listen)
            wait = min(max(min(t for t in due if t is not None) - now, 0.0), FALLBACK_EVERY)
            if self._listener is not None:
                try:
                    heard = self._listener.wait(wait)
                except DatabaseUnavailable:
                    self._listener = None
                    heard = {live_service.DESK, live_service.SESSIONS}
            elif self._stop.wait(wait):
                return
        now = time.monotonic()
        told = self._listener is not None  # else poll
        try:
            if live_service.DESK in heard or now >= self._next_desk:
                self._next_desk = now + LIVE_SECONDS  # until the database answers
                self._check_desk(engine)
                self._next_desk = now + (FALLBACK_EVERY if told else LIVE_SECONDS)
            if live_service.SESSIONS in heard or now >= self._next_sessions:
                self._next_sessions = now + LIVE_SECONDS
                expiry = self._check_sessions(engine)
                self._next_sessions = now + min(FALLBACK_EVERY if told else SESSIONS_EVERY, expiry)
        except DatabaseUnavailable:
            self.plan.database_down()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self._prune(now)
        for follower, reason in self.plan.due(time.monotonic(), self._reachable):
            log.debug("waking %s: %s", follower.session, reason.value)
            self._wake(follower, reason)

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def _check_desk(self, engine: Engine) -> None:
        revision = live_service.desk_revision(engine)
        views = {v for v in self.plan.desk_at(revision) if isinstance(v, live_service.View)}
        if views:
            self.plan.measured(revision, views, live_service.measure(engine, views))

    def _check_sessions(self, engine: Engine) -> float:
        """Check the open pages' sign-in sessions; the seconds until the first of them
        expires."""
        now = datetime.now(UTC)
        asked = self.plan.tokens()
        found = account_service.open_sessions(engine, asked, now)
        self.plan.sessions_checked(asked, set(found))
        soonest = min(found.values(), default=None)
        return math.inf if soonest is None else (soonest - now).total_seconds() + 0.1

    def _prune(self, now: float) -> None:
        """Forget pages that no longer follow the desk: gone to a page without a live view,
        or whose browser has been away for GONE_AFTER."""
        runtime = _runtime()
        if runtime is None:
            return
        for follower in self.plan.followers():
            session = runtime.get_app_session(follower.session)
            if session is None:
                away = self._away_since.setdefault(follower.session, now)
                if now - away > GONE_AFTER:
                    self.plan.drop(follower.session)
                    self._away_since.pop(follower.session, None)
                continue
            self._away_since.pop(follower.session, None)
            if not session.has_fragment(follower.target.fragment):
                self.plan.drop(follower.session)


def _runtime() -> Any:
    from streamlit.runtime import Runtime

    return Runtime.instance() if Runtime.exists() else None


def _reachable(follower: Follower) -> bool:
    runtime = _runtime()
    return runtime is not None and bool(runtime.is_active_session(follower.session))


class Waker:
    """Sends the wakes to the pages' Streamlit sessions, a few at a time (see the module's
    docstring). On the server's event loop only."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, concurrency: int = WAKE_CONCURRENCY
    ) -> None:
        self._loop = loop
        self.queue: WakeQueue[tuple[Target, Target | None]] = WakeQueue(concurrency)
        self._next: asyncio.TimerHandle | None = None  # the next look at the line
        self._closed = False

    def wake(self, target: Target, fallback: Target | None = None) -> None:
        """Rerun the fragment `target` (if the session no longer has it, `fallback`) once no
        run of its session is under way or queued and its turn has come. A wake that comes
        while another of the session waits replaces it, unless the one waiting is of the
        whole page (`fallback` None: the live-view fragment) and the new one is not."""
        if self._closed:  # the server is stopping
            return
        self.queue.add(target.session, (target, fallback), whole=fallback is None)
        self._send()

    def close(self) -> None:
        """Send nothing more (from any thread)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            self._loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self._closed = True
        if self._next is not None:
            self._next.cancel()
            self._next = None

    def _look_again(self) -> None:
        self._next = None
        self._send()

    def _send(self) -> None:
        runtime = _runtime()
        people_busy = bool(self.queue.waiting()) and _people_busy(runtime, self.queue.in_flight())
        for session_id, (target, fallback) in self.queue.admit(
            time.monotonic(), lambda s: _activity(runtime, s), people_busy
        ):
            session = None if runtime is None else runtime.get_app_session(session_id)
            try:
                sent = session is not None and _rerun_fragment(session, target, fallback)
            except Exception:  # a bug, or Streamlit changed: say so, and carry on
                log.exception("waking %s failed", session_id)
                sent = False
            if not sent:
                self.queue.not_sent(session_id)
        if self.queue and self._next is None:
            self._next = self._loop.call_later(RETRY_EVERY, self._look_again)


def _activity(runtime: Any, session_id: str) -> Activity:
    session = None if runtime is None else runtime.get_app_session(session_id)
    if session is None:
        return Activity.GONE
    # Streamlit's own record of the session's ScriptRunner: set from the moment a run is
    # asked for until the last rerun queued behind it has ended (no public API says so).
    return Activity.IDLE if getattr(session, "_scriptrunner", None) is None else Activity.BUSY


def _people_busy(runtime: Any, woken: Collection[str]) -> bool:
    """Whether a session of this server other than those `woken` has a run under way or
    queued: a run a person asked for (a page load, a click, a search)."""
    if runtime is None:
        return False
    return any(
        getattr(info.session, "_scriptrunner", None) is not None
        for info in runtime._session_mgr.list_active_sessions()  # no public API lists them
        if info.session.id not in woken
    )


def _rerun_fragment(session: Any, target: Target, fallback: Target | None = None) -> bool:
    """Ask the page's session for a run of the fragment `target` (if the session no longer
    has it, of `fallback`), as the browser asks for a fragment run; False if it has neither."""
    from streamlit.proto.ClientState_pb2 import ClientState

    if not session.has_fragment(target.fragment):
        if fallback is None or not session.has_fragment(fallback.fragment):
            return False
        target = fallback
    state = ClientState()
    state.query_string = target.query
    state.page_script_hash = target.page
    state.fragment_id = target.fragment
    state.is_auto_rerun = True
    if target.context is not None:
        state.context_info.CopyFrom(target.context)
    session.request_rerun(state)
    return True


# -- the one watcher of this process

_watcher: Watcher | None = None
_waker: Waker | None = None
_lock = threading.Lock()


def start(loop: asyncio.AbstractEventLoop, engine: Callable[[], Engine] = process_engine) -> None:
    """Start this server's watcher, waking pages through `loop` (the server's event loop)."""
    global _watcher, _waker

    with _lock:
        if _watcher is not None:
            return
        waker = _waker = Waker(loop)

        def wake(follower: Follower, reason: Reason) -> None:
            target = to_wake(follower, reason)
            fallback = follower.target if target is not follower.target else None
            with contextlib.suppress(RuntimeError):  # the loop is closed: the server stops
                loop.call_soon_threadsafe(waker.wake, target, fallback)

        _watcher = Watcher(engine, wake, _reachable)
        _watcher.start()


def stop() -> None:
    global _watcher, _waker
    with _lock:
        watcher, _watcher = _watcher, None
        waker, _waker = _waker, None
    if watcher is not None:
        watcher.stop()
    if waker is not None:
        waker.close()


def running() -> bool:
    """Whether pages are woken by this server's watcher (else they poll by themselves)."""
    return _watcher is not None


def serving(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]],
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """`lifespan` (the app's), with the watcher running while the server serves."""

    @asynccontextmanager
    async def with_live_view(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state:
            start(asyncio.get_running_loop())
            try:
                yield state
            finally:
                stop()

    return with_live_view


# -- what page runs tell it (in the script's thread)


def follow(token: str | None, drawn: int | None) -> None:
    """This page, in a run of its live-view fragment (follow_changes), follows the desk from
    revision `drawn` (None: it could not reach the database) until it says what it shows."""
    watcher = _watcher
    target = _here() if watcher is not None else None
    if watcher is None or target is None:
        return
    watcher.follow(Follower(target.session, token or "", drawn, target=target))


def showing(drawn: int | None, watch: Watch | None, every: float = WAKE_EVERY) -> None:
    """This page drew `watch` (None: something any change may change) at revision `drawn`
    (None: it could not reach the database). Called inside a fragment (the Tickets table),
    a change of `watch` reruns that fragment alone, which must then read `watch` again and
    say so here; called outside any fragment, a change reruns the whole page."""
    watcher = _watcher
    if watcher is None:
        return
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return
    view, mark = (None, None) if watch is None else (watch.view, watch.mark)
    redraw = _here() if watch is not None else None
    watcher.plan.showing(ctx.session_id, drawn, view, mark, every, redraw)


def _here() -> Target | None:
    """The fragment running now (None: none, a run of the whole page), and what the browser
    sent for this run."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState

    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return None
    try:  # Streamlit's own record of the fragment running (no public API gives it)
        fragment = ThreadState.get().fragment_id
    except (RuntimeError, AttributeError):
        return None
    if not fragment:
        return None
    context = None
    if ctx.context_info is not None:
        from streamlit.proto.ClientState_pb2 import ContextInfo

        context = ContextInfo()
        context.CopyFrom(ctx.context_info)
    return Target(ctx.session_id, fragment, ctx.page_script_hash, ctx.query_string, context)
