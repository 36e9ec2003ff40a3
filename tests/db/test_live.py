"""The live view's database side, on both backends: what writes announce (PostgreSQL), which
sign-in sessions are still open, what a page's view reads again, and one server's watcher
(app_components.live.Watcher, its wakes recorded instead of sent to Streamlit sessions)
waking exactly the pages whose view changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

from app_components.live import Watcher
from app_components.live_plan import Follower, Reason
from tests.support.databases import POSTGRES_URL, migrated, postgres_schema
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.tickets import MessageKind, TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import live as live_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.live import DESK, SESSIONS, ListView, TicketView
from ticketdesk.services.tickets import Sort, SortColumn, TicketFilter
from ticketdesk.store import changes
from ticketdesk.store.changes import Listener

PASSWORD = "the live view's test password"
WAKE_TIMEOUT_S = 60.0
"""Long enough for the watcher's next read on a loaded machine (it reads every second)."""


def signed_in(engine: Engine, name: str, role: str, now: datetime) -> tuple[Account, str]:
    email = name.lower().replace(" ", ".") + "@example.com"
    account = account_service.create_account(engine, None, email, name, role, PASSWORD, now)
    return account, account_service.sign_in(engine, email, PASSWORD, "test", now).token


def postgres_only(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("announcements are PostgreSQL's: SQLite's one server polls instead")


@pytest.fixture
def listener(engine: Engine) -> Iterator[Listener]:
    postgres_only(engine)
    heard = live_service.listen(engine)
    assert heard is not None
    yield heard
    heard.close()


# --------------------------------------------------------------------------- announcements


def test_sqlite_has_nothing_to_listen_to(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    assert live_service.listen(engine) is None


def test_a_write_is_announced_when_it_commits_and_not_when_it_rolls_back(
    engine: Engine, listener: Listener, agent: Account, now: datetime
) -> None:
    assert listener.wait(0) == set()
    ticket_service.create_ticket(engine, agent, "Printer jams", "Low", now)
    assert listener.wait(WAKE_TIMEOUT_S) == {DESK}
    with pytest.raises(ZeroDivisionError), engine.begin() as conn:
        changes.announce(conn, DESK)
        _ = 1 / 0  # rolled back, with its announcement
    _, token = signed_in(engine, "Sam Agent", "agent", now)
    account_service.sign_out(engine, token)
    # Announcements arrive in commit order: the sign-out's alone, nothing before it.
    assert listener.wait(WAKE_TIMEOUT_S) == {SESSIONS}


def test_ending_sessions_is_announced(
    engine: Engine, listener: Listener, admin: Account, now: datetime
) -> None:
    ben, _ = signed_in(engine, "Ben Agent", "agent", now)
    account_service.set_active(engine, admin, ben.id, False)
    assert listener.wait(WAKE_TIMEOUT_S) == {SESSIONS}
    cleo, token = signed_in(engine, "Cleo Agent", "agent", now)
    account_service.sign_in(engine, cleo.email, PASSWORD, "test", now)  # another session
    account_service.change_own_password(engine, token, PASSWORD, PASSWORD + " new", now)
    assert listener.wait(WAKE_TIMEOUT_S) == {SESSIONS}


@pytest.mark.skipif(not POSTGRES_URL, reason="TICKETDESK_TEST_POSTGRES_URL unset")
def test_desks_in_other_schemas_of_the_database_are_not_heard(
    engine: Engine, listener: Listener, agent: Account, now: datetime
) -> None:
    with postgres_schema() as url:
        for other in migrated(url):
            someone = account_service.create_account(
                other, None, "x@example.com", "X", "agent", None, now
            )
            ticket_service.create_ticket(other, someone, "Elsewhere", "Low", now)
    ticket_service.create_ticket(engine, agent, "Here", "Low", now)
    assert listener.wait(WAKE_TIMEOUT_S) == {DESK}  # this schema's, and only that
    assert listener.wait(0) == set()


# --------------------------------------------------------------------------- sessions


def test_open_sessions_are_those_that_still_open_an_active_account(
    engine: Engine, admin: Account, now: datetime
) -> None:
    ana, kept = signed_in(engine, "Ana Agent", "agent", now)
    signed_out = account_service.sign_in(engine, ana.email, PASSWORD, "test", now).token
    account_service.sign_out(engine, signed_out)
    ben, deactivated = signed_in(engine, "Ben Agent", "agent", now)
    account_service.set_active(engine, admin, ben.id, False)
    cleo, _ = signed_in(engine, "Cleo Agent", "agent", now)
    earlier = now - account_service.SESSION_LIFETIME - timedelta(minutes=1)
    expired = account_service.sign_in(engine, cleo.email, PASSWORD, "test", earlier).token
    asked = [kept, signed_out, deactivated, expired, "not a session", ""]
    assert account_service.open_sessions(engine, asked, now) == {
        kept: now + account_service.SESSION_LIFETIME
    }
    assert account_service.open_sessions(engine, [], now) == {}


# --------------------------------------------------------------------------- views and marks


def test_a_page_of_the_list_is_read_again_as_the_page_read_it(
    engine: Engine, agent: Account, requester: Account, now: datetime
) -> None:
    first = ticket_service.create_ticket(engine, requester, "VPN drops", "Low", now)
    second = ticket_service.create_ticket(engine, agent, "Badge reader dead", "High", now)
    everything, closed = TicketFilter(), TicketFilter(statuses=("Closed",))
    shown = {
        flt: live_service.watch_list(agent, flt, Sort(), ticket_service.ticket_page(
            engine, agent, flt, Sort()))
        for flt in (everything, closed)
    }  # fmt: skip
    views = [w.view for w in shown.values()]
    assert live_service.measure(engine, views) == {w.view: w.mark for w in shown.values()}

    ticket_service.update_ticket(engine, agent, first.id, TicketChange(priority="High"), now)
    marks = live_service.measure(engine, views)
    assert marks[shown[everything].view] != shown[everything].mark  # it shows that ticket
    assert marks[shown[closed].view] == shown[closed].mark  # it does not

    ticket_service.update_ticket(engine, agent, second.id, TicketChange(status="Closed"), now)
    assert live_service.measure(engine, views)[shown[closed].view] != shown[closed].mark


def test_pages_of_people_who_see_the_same_tickets_share_their_view(
    engine: Engine, agent: Account, admin: Account, requester: Account, now: datetime
) -> None:
    page = ticket_service.ticket_page(engine, agent, TicketFilter(), Sort())
    mine = ticket_service.ticket_page(engine, requester, TicketFilter(), Sort())
    agents = live_service.watch_list(agent, TicketFilter(), Sort(), page).view
    assert live_service.watch_list(admin, TicketFilter(), Sort(), page).view == agents
    requesters = live_service.watch_list(requester, TicketFilter(), Sort(), mine).view
    assert requesters != agents
    assert requesters == ListView(TicketFilter(requester_id=requester.id), Sort(), 1, None)


def test_pages_showing_one_view_at_one_revision_share_one_read(
    engine: Engine, agent: Account, admin: Account, requester: Account, now: datetime
) -> None:
    first = ticket_service.create_ticket(engine, requester, "VPN drops", "Low", now)
    ticket_service.create_ticket(engine, agent, "Badge reader dead", "High", now)
    everything = TicketFilter()
    read = live_service.list_page(engine, agent, everything, Sort())
    assert read == ticket_service.ticket_page(engine, agent, everything, Sort())
    # Another agent's page of the same view, at the same revision: the same read.
    assert live_service.list_page(engine, admin, everything, Sort()) is read
    # Page 1 is page 1 from whichever page the person comes.
    assert live_service.list_page(engine, admin, everything, Sort(), 1, read.anchor) is read
    # Other views read their own: another sort, another filter, what a requester may see.
    oldest_first = live_service.list_page(engine, agent, everything, Sort(SortColumn.ID, False))
    assert [t.id for t in oldest_first.tickets] == [t.id for t in reversed(read.tickets)]
    mine = live_service.list_page(engine, requester, everything, Sort())
    assert [t.id for t in mine.tickets] == [first.id]
    # A change: the page is read again, at the new revision, and shared from then on.
    ticket_service.update_ticket(engine, agent, first.id, TicketChange(status="Closed"), now)
    after = live_service.list_page(engine, admin, everything, Sort())
    assert after.revision == read.revision + 1
    assert [t.status for t in after.tickets if t.id == first.id] == ["Closed"]
    assert live_service.list_page(engine, agent, everything, Sort()) is after


def test_the_pages_woken_by_a_change_share_the_watchers_read(
    engine: Engine, agent: Account, now: datetime
) -> None:
    ticket = ticket_service.create_ticket(engine, agent, "Screen flickers", "Low", now)
    shown = live_service.list_page(engine, agent, TicketFilter(), Sort())
    watch = live_service.watch_list(agent, TicketFilter(), Sort(), shown)
    ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(priority="High"), now)
    live_service.measure(engine, [watch.view])  # the watcher, which then wakes the page
    with statements(engine) as sent:
        redrawn = live_service.list_page(engine, agent, TicketFilter(), Sort())
    assert redrawn.revision == shown.revision + 1
    assert [t.priority for t in redrawn.tickets] == ["High"]
    assert [s for s in sent if "tickets" in s] == []  # only the revision was read


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on `engine` meanwhile."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_ticket_is_read_again_by_its_version_and_the_targets(
    engine: Engine, agent: Account, admin: Account, now: datetime
) -> None:
    ticket = ticket_service.create_ticket(engine, agent, "Screen flickers", "Low", now)
    watch = live_service.watch_ticket(ticket_service.ticket_detail(engine, agent, ticket.code))
    assert live_service.measure(engine, [watch.view, TicketView(99_999)]) == {
        watch.view: watch.mark  # a ticket that does not exist has no mark
    }
    ticket_service.add_message(engine, agent, ticket.id, MessageKind.NOTE, "Checked the cable", now)
    after_note = live_service.measure(engine, [watch.view])[watch.view]
    assert after_note != watch.mark
    dashboard_service.save_sla_targets(
        engine, admin, {"High": (1, 8), "Medium": (4, 24), "Low": (8, 48)}
    )
    assert live_service.measure(engine, [watch.view])[watch.view] != after_note


# --------------------------------------------------------------------------- the watcher


class Wakes:
    """The watcher's wakes, recorded; `wait_for` returns once the sessions named are woken."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Reason]] = []
        self._changed = threading.Condition()

    def __call__(self, follower: Follower, reason: Reason) -> None:
        with self._changed:
            self.seen.append((follower.session, reason))
            self._changed.notify_all()

    def wait_for(self, sessions: set[str]) -> None:
        with self._changed:
            got = self._changed.wait_for(
                lambda: sessions <= {s for s, _ in self.seen}, WAKE_TIMEOUT_S
            )
        assert got, f"not woken within {WAKE_TIMEOUT_S} s: {sessions}; woken: {self.seen}"


@pytest.fixture
def watched(engine: Engine) -> Iterator[tuple[Watcher, Wakes]]:
    wakes = Wakes()
    watcher = Watcher(lambda: engine, wakes, reachable=lambda _follower: True)
    watcher.start()
    yield watcher, wakes
    watcher.stop()
    watcher.join()


def test_the_watcher_wakes_exactly_the_pages_whose_view_changed(
    engine: Engine, watched: tuple[Watcher, Wakes], requester: Account
) -> None:
    watcher, wakes = watched
    now = datetime.now(UTC)  # the watcher checks the sessions against the real clock
    ana, token = signed_in(engine, "Ana Agent", "agent", now)
    first = ticket_service.create_ticket(engine, requester, "VPN drops", "Low", now)
    second = ticket_service.create_ticket(engine, ana, "Badge reader dead", "High", now)
    pages = {
        "list": live_service.watch_list(ana, TicketFilter(), Sort(), ticket_service.ticket_page(
            engine, ana, TicketFilter(), Sort())),
        "closed list": live_service.watch_list(ana, TicketFilter(statuses=("Closed",)), Sort(),
            ticket_service.ticket_page(engine, ana, TicketFilter(statuses=("Closed",)), Sort())),
        "first ticket": live_service.watch_ticket(
            ticket_service.ticket_detail(engine, ana, first.code)),
        "second ticket": live_service.watch_ticket(
            ticket_service.ticket_detail(engine, ana, second.code)),
        "dashboard": None,
    }  # fmt: skip
    drawn = live_service.desk_revision(engine)
    for session, watch in pages.items():
        view, mark = (None, None) if watch is None else (watch.view, watch.mark)
        watcher.follow(Follower(session, token, drawn, view, mark))

    ticket_service.update_ticket(engine, ana, first.id, TicketChange(priority="High"), now)
    wakes.wait_for({"list", "first ticket", "dashboard"})
    watcher.stop()
    watcher.join()  # its pass is over: every page it was to wake for that change is woken
    assert sorted(wakes.seen) == [
        ("dashboard", Reason.CHANGED),
        ("first ticket", Reason.CHANGED),
        ("list", Reason.CHANGED),
    ]


def test_the_watcher_wakes_the_pages_of_an_ended_session_once(
    engine: Engine, watched: tuple[Watcher, Wakes], admin: Account
) -> None:
    watcher, wakes = watched
    now = datetime.now(UTC)  # the watcher checks the sessions against the real clock
    drawn = live_service.desk_revision(engine)
    _, ana_token = signed_in(engine, "Ana Agent", "agent", now)
    ben, ben_token = signed_in(engine, "Ben Agent", "agent", now)
    _, cleo_token = signed_in(engine, "Cleo Agent", "agent", now)
    for session, token in (("ana", ana_token), ("ben", ben_token), ("cleo", cleo_token)):
        watcher.follow(Follower(session, token, drawn))
    account_service.sign_out(engine, ana_token)
    account_service.set_active(engine, admin, ben.id, False)
    wakes.wait_for({"ana", "ben"})
    watcher.stop()
    watcher.join()
    assert sorted(wakes.seen) == [("ana", Reason.ENDED), ("ben", Reason.ENDED)]
    assert [f.session for f in watcher.plan.followers()] == ["cleo"]
