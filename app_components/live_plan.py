"""Which open pages the live view redraws, and when: its rules, without Streamlit or a
database, so that they can be tested alone (app_components.live runs them in the one watcher
thread of an app server, and feeds them what the database says).

Each open page that follows the desk is a `Follower`: its Streamlit session, its sign-in
session's cookie, the desk revision its data was read at, and what it shows (a view and the
mark the view had then; services.live). A page is woken when:
- the desk moved past the revision it drew and its view, read again, has another mark (each
  distinct view is read once per check, however many pages show it); a page that does not
  say what it shows (the dashboard) is woken on any move;
- its sign-in session ended (signed out elsewhere, deactivated, expired): once, then it is
  forgotten (its page asks to sign in and follows nothing);
- the database could not be reached (the page then says so), and again when it is back.
What a wake reruns (`to_wake`): for a change of what it shows, the part of the page that drew
it, when that part is a fragment that reads its view again by itself (the Tickets table:
`Follower.redraw`); otherwise, and for the other reasons, the page's live-view fragment, which
then runs the whole page.
Wakes are coalesced: a page is woken at most once per `every` seconds for changes (2 s, the
dashboard 5 s) and once per 2 s for the rest; a change that comes sooner is owed and woken
when that time has passed, however many more changes come meanwhile. The first change after a
quiet spell wakes at once: the spacing only bounds what a busy desk costs. 200 pages of the
newest tickets on a desk that changes every second are 100 wakes a second at 2 s: 100 runs
of the Tickets table (about 0.04 s of server time each, the page's read shared: see
services.live.list_page), where whole-page wakes cost about 0.15 s each and polling every
3 s made 67 whole runs and woke idle pages too. That is still more than one server process
runs in a second, so the spacing stays at 2 s: at 1 s the same desk would ask for twice as
many runs, to gain at most a second on a change that closely follows another.

The wakes due are then sent a few at a time (`WakeQueue`): at most `concurrency` woken runs
are in flight per server, the others wait their turn, first come first served. Every script
run is a thread of the server's one Python process: a change to a ticket on the first page
of the list woke every page showing it at once, up to 200 table runs sharing the GIL, and an
agent's own action (a page load, about 0.15 s of CPU) shared it with them and took many times
as long (0.49 s at p95 with 100 sessions, 1.42 s with 200, against 0.15 s alone). In line,
the storm costs the same in total and its pages redraw one after the other instead of all
together, while a person's own runs, which do not come through here, find the GIL shared
with a couple of others only."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Generic, TypeVar

WAKE_EVERY = 2.0
"""The shortest time between two wakes of one page, in seconds."""
DASHBOARD_EVERY = 5.0
"""The dashboard's (it redraws on any change, and its figures cost the most to compute)."""
GIVE_UP = 10.0
"""A wake kept waiting this long by its page's own runs is sent anyway, and a woken run still
going after this long no longer holds its place among those in flight (seconds)."""
HOLD_AT_MOST = 1.0
"""While people's own runs are under way no woken run starts, unless none has started for
this long (seconds): then one may, so that a server never idle still redraws."""


class Reason(Enum):
    CHANGED = "what it shows changed"
    ENDED = "its sign-in session ended"
    DATABASE_DOWN = "the database cannot be reached"
    DATABASE_BACK = "the database can be reached again"


@dataclass(frozen=True)
class Follower:
    """One open page, as its latest run left it."""

    session: str
    """Its Streamlit session."""
    token: str
    """Its sign-in session's cookie."""
    drawn: int | None
    """The desk revision its data was read at; None: the database could not be reached."""
    view: Hashable | None = None
    """What it shows, to be read again; None: any change of the desk may change it."""
    mark: Hashable = None
    """The view's mark when the page read it."""
    every: float = WAKE_EVERY
    target: Any = None
    """How to wake it (its live-view fragment, which runs the whole page): the runner's
    business."""
    redraw: Any = None
    """How to redraw only what it shows, when that changed (the fragment that drew the view
    and reads it again by itself); None: wake `target`. The runner's business too."""


def to_wake(follower: Follower, reason: Reason) -> Any:
    """What to rerun to wake `follower` for `reason`: only the part of the page that shows
    the view when the view changed and that part can redraw itself, else its live-view
    fragment (the whole page: a session that ended, the database down or back, or a page that
    says nothing of what it shows)."""
    if reason is Reason.CHANGED and follower.redraw is not None:
        return follower.redraw
    return follower.target


@dataclass
class _Entry:
    follower: Follower
    known: int  # nothing it shows changed up to this revision
    owed: Reason | None = None
    woken_at: float = -math.inf  # when it was last woken (or found not reachable)


_GONE = object()  # the mark of a view that no longer exists


class Plan:
    """The open pages of one app server and what is owed to each. Safe to call from any
    thread (page runs register, the watcher decides)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self.revision: int | None = None
        """The latest desk revision read."""
        self.down = False
        """Whether the latest read of the database failed."""

    # -- what pages say, from their runs

    def follow(self, follower: Follower) -> None:
        """A page drew itself (a whole run), or could not (`drawn` None): it replaces what
        its session followed before; what was owed to it is settled by this run."""
        with self._lock:
            old = self._entries.get(follower.session)
            self._entries[follower.session] = _Entry(
                follower,
                known=-1 if follower.drawn is None else follower.drawn,
                woken_at=-math.inf if old is None else old.woken_at,
            )

    def showing(
        self,
        session: str,
        drawn: int | None,
        view: Hashable | None,
        mark: Hashable,
        every: float,
        redraw: Any = None,
    ) -> None:
        """A run of a part of the page drew `view` (with `mark`) at revision `drawn` (None:
        it could not reach the database); `redraw` reruns that part alone (None: it is no
        part that can). Nothing if the session does not follow the desk (yet): its next whole
        run says everything."""
        with self._lock:
            entry = self._entries.get(session)
            if entry is None:
                return
            entry.follower = replace(
                entry.follower, drawn=drawn, view=view, mark=mark, every=every, redraw=redraw
            )
            entry.known = -1 if drawn is None else drawn
            if entry.owed is not Reason.ENDED:  # that is about the session, not the page
                entry.owed = None

    def drop(self, session: str) -> None:
        with self._lock:
            self._entries.pop(session, None)

    # -- what the database says, from the watcher

    def followers(self) -> list[Follower]:
        with self._lock:
            return [e.follower for e in self._entries.values()]

    def tokens(self) -> set[str]:
        with self._lock:
            return {e.follower.token for e in self._entries.values()}

    def desk_at(self, revision: int) -> set[Hashable]:
        """The database answered, at `revision`: the views to read again (for `measured`) to
        know which pages changed. Pages that redraw on any change are owed a wake now, and
        pages that could not reach the database are owed one to redraw."""
        with self._lock:
            self.revision, self.down = revision, False
            views: set[Hashable] = set()
            for entry in self._entries.values():
                follower = entry.follower
                if entry.owed is Reason.DATABASE_DOWN:  # not told yet, and back already
                    entry.owed = None
                if entry.owed is not None:
                    continue
                if follower.drawn is None:
                    entry.owed = Reason.DATABASE_BACK
                elif max(entry.known, follower.drawn) < revision:
                    if follower.view is None:
                        entry.owed = Reason.CHANGED
                    else:
                        views.add(follower.view)
            return views

    def measured(
        self, revision: int, views: Collection[Hashable], marks: Mapping[Any, Hashable]
    ) -> None:
        """The `views` that desk_at(`revision`) asked for, read again (at `revision` or
        later): `marks` has the mark of each that still exists. Pages whose view has another
        mark are owed a wake; the others are known unchanged up to `revision`."""
        with self._lock:
            for entry in self._entries.values():
                follower = entry.follower
                if (
                    entry.owed is not None
                    or follower.drawn is None
                    or follower.view not in views
                    or max(entry.known, follower.drawn) >= revision
                ):
                    continue  # settled meanwhile, or registered after desk_at
                if marks.get(follower.view, _GONE) != follower.mark:
                    entry.owed = Reason.CHANGED
                else:
                    entry.known = revision

    def database_down(self) -> None:
        """A read of the database failed: pages that do not say so yet are owed a wake (to
        say so); wakes owed because it was back are no longer."""
        with self._lock:
            if self.down:
                return
            self.down = True
            for entry in self._entries.values():
                if entry.owed is Reason.DATABASE_BACK:
                    entry.owed = None
                elif entry.follower.drawn is not None and entry.owed is not Reason.ENDED:
                    entry.owed = Reason.DATABASE_DOWN

    def sessions_checked(self, asked: Collection[str], still_open: Collection[str]) -> None:
        """Of the sign-in sessions `asked` about (tokens), those `still_open` are: pages of the
        others are owed a wake (they then ask to sign in). Pages that followed since, with a
        session not asked about, wait for the next check."""
        with self._lock:
            for entry in self._entries.values():
                token = entry.follower.token
                if token in asked and token not in still_open:
                    entry.owed = Reason.ENDED

    # -- waking

    def due(
        self, now: float, reachable: Callable[[Follower], bool] = lambda _f: True
    ) -> list[tuple[Follower, Reason]]:
        """The wakes to send at `now` (monotonic seconds): what is owed to pages that were
        not woken for long enough, if `reachable` (a page whose browser is away is tried
        again later). A page woken because its session ended is forgotten."""
        wakes: list[tuple[Follower, Reason]] = []
        with self._lock:
            for session, entry in list(self._entries.items()):
                reason = entry.owed
                if reason is None or now - entry.woken_at < self._spacing(entry):
                    continue
                entry.woken_at = now
                if not reachable(entry.follower):
                    continue
                wakes.append((entry.follower, reason))
                entry.owed = None
                if reason is Reason.ENDED:
                    del self._entries[session]
                elif self.revision is not None:  # its run redraws what the desk is now
                    entry.known = max(entry.known, self.revision)
        return wakes

    def next_due(self) -> float | None:
        """When the earliest owed wake may be sent (monotonic seconds), if any is owed."""
        with self._lock:
            times = [e.woken_at + self._spacing(e) for e in self._entries.values() if e.owed]
        return min(times, default=None)

    @staticmethod
    def _spacing(entry: _Entry) -> float:
        every = entry.follower.every if entry.owed is Reason.CHANGED else WAKE_EVERY
        return max(every, WAKE_EVERY)


# -- sending the wakes, a few at a time


class Activity(Enum):
    """What a page's session is doing, as the runner sees it."""

    IDLE = "no run under way or queued"
    BUSY = "a run under way or queued"
    GONE = "no such session any more"


W = TypeVar("W")


@dataclass
class _Waiting(Generic[W]):
    wake: W
    whole: bool
    busy_since: float | None = None  # when its turn came but its session was busy


class WakeQueue(Generic[W]):
    """The wakes waiting to be sent to pages, and the woken runs in flight, for one server.
    Not thread-safe: the runner keeps it on the server's event loop.

    - A page has at most one wake waiting: a newer one replaces it and keeps its place in
      line, unless the one waiting reruns the whole page and the newer one does not.
    - At most `concurrency` woken runs are in flight: from the wake's sending until its
      session is idle again (whatever else it then ran), or gone, or `give_up` seconds.
    - While fewer are, the wakes waiting are sent in the order they came, each once its
      session is idle: a wake whose session is busy keeps its place without holding up those
      behind it, and is sent anyway once its session has been found busy for `give_up`
      seconds since its turn came. The wait for a place has no such limit: sent anyway, the
      wakes of a storm would run all at once again, just when the server is the busiest.
    - A wake whose session is gone is dropped.
    - People first: while a run that a person asked for is under way in the server (a page
      load, a click: `people_busy`), no woken run starts, unless none has for `hold_at_most`
      seconds; then one may. A person's run then shares the GIL with the woken runs already
      in flight only, which end within a few hundredths of a second, and not with a line
      that never empties on a busy desk (woken runs cost about as much as people's, and
      outnumber them five to one with 200 pages open).
    `admit(now, activity, people_busy)` says which wakes to send now (`activity` tells what a
    session is doing); it asks about each run in flight, and about the wakes waiting only
    while there is room, in order, until it is filled."""

    def __init__(
        self, concurrency: int, give_up: float = GIVE_UP, hold_at_most: float = HOLD_AT_MOST
    ) -> None:
        self.concurrency = max(1, concurrency)
        self.give_up = give_up
        self.hold_at_most = hold_at_most
        self._waiting: dict[str, _Waiting[W]] = {}  # by session, in the order they came
        self._in_flight: dict[str, float] = {}  # the sessions woken, and when
        self._last_sent = -math.inf  # when the latest woken run was sent

    def add(self, session: str, wake: W, whole: bool) -> None:
        """A wake of `session`'s page; `whole`: it reruns the whole page."""
        waiting = self._waiting.get(session)
        if waiting is None:
            self._waiting[session] = _Waiting(wake, whole)
        elif whole or not waiting.whole:
            waiting.wake, waiting.whole = wake, whole

    def admit(
        self, now: float, activity: Callable[[str], Activity], people_busy: bool = False
    ) -> list[tuple[str, W]]:
        """The wakes to send at `now` (monotonic seconds), by session, in order: they count
        as in flight from now on. `people_busy`: a run a person asked for is under way."""
        for session, since in list(self._in_flight.items()):
            if now - since >= self.give_up or activity(session) is not Activity.BUSY:
                del self._in_flight[session]
        room = self.concurrency
        if people_busy:
            room = 1 if now - self._last_sent >= self.hold_at_most else 0
        sent: list[tuple[str, W]] = []
        for session, waiting in list(self._waiting.items()):
            if len(self._in_flight) >= room:
                break
            doing = activity(session)
            if doing is Activity.GONE:
                del self._waiting[session]
                continue
            if doing is Activity.BUSY:
                if waiting.busy_since is None:
                    waiting.busy_since = now
                if now - waiting.busy_since < self.give_up:
                    continue
            del self._waiting[session]
            self._in_flight[session] = self._last_sent = now
            sent.append((session, waiting.wake))
        return sent

    def not_sent(self, session: str) -> None:
        """A wake that admit() gave was not sent after all (its page had nothing left to
        rerun): its place is free at once."""
        self._in_flight.pop(session, None)

    def waiting(self) -> list[str]:
        """The sessions with a wake waiting, in line."""
        return list(self._waiting)

    def in_flight(self) -> list[str]:
        """The sessions with a woken run in flight."""
        return list(self._in_flight)

    def __bool__(self) -> bool:
        """Whether anything waits or is in flight: admit() has something to do."""
        return bool(self._waiting or self._in_flight)
