"""Several people at once, in real browsers: a stale edit is refused with a message naming
the change, others' changes appear on idle pages by themselves (the server's live view wakes
them), two app servers share one PostgreSQL and hear each other's changes, and a page rides
out a database outage."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support import databases
from tests.support.app_server import AppServer, run_app, utc_now
from tests.support.browser import Desk
from tests.support.server import free_port
from ticketdesk.domain.tickets import EventKind, MessageKind, TicketChange, parse_ticket_code
from ticketdesk.services import tickets as ticket_service

pytestmark = pytest.mark.e2e
needs_postgres = pytest.mark.skipif(
    not databases.POSTGRES_URL, reason="TICKETDESK_TEST_POSTGRES_URL unset"
)
LIVE_TIMEOUT_MS = 12_000
"""A change must show within this long: the server's 1 s read (or its announcement), the
page's rerun, and a loaded machine."""


def pick(desk: Desk, code: str, column: str, value: str) -> None:
    """Choose `value` in a select-box cell, as a person does, without waiting for a save."""
    desk.select_cell(column, desk.row_of(code))
    desk.page.keyboard.press("Enter")
    option = desk.page.locator("#portal").get_by_role("option", name=value, exact=True)
    expect(option).to_be_visible()
    option.click()
    with contextlib.suppress(AssertionError):
        expect(option).to_be_hidden(timeout=3000)
        return
    option.click()  # the menu missed the click (see Desk.edit_choice): click again


def cell_of(desk: Desk, code: str, column: str) -> str:
    return desk.cell(column, desk.row_of(code)).inner_text()


@pytest.fixture
def slow_poll_app(chromium: Path, tmp_path: Path) -> Iterator[AppServer]:
    """Pages that do not follow others' changes by themselves for 5 minutes: a view stays
    stale until its owner acts, as a busy agent's would."""
    with run_app(tmp_path, 0, extra_env={"TICKETDESK_LIVE_SECONDS": "300"}) as server:
        yield server


@pytest.fixture
def live_app(chromium: Path, tmp_path: Path) -> Iterator[AppServer]:
    with run_app(tmp_path, 0, extra_env={"TICKETDESK_LIVE_SECONDS": "1"}) as server:
        yield server


def test_a_stale_edit_is_refused_and_shows_who_changed_what(
    slow_poll_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    ana, ben = new_desk(slow_poll_app), new_desk(slow_poll_app)  # two agents
    ana.load_tickets()
    code = ana.add_ticket("Shared printer on floor 2 jams", "Low")
    ben.load_tickets()  # Ben sees the ticket Open / Low ...
    ben.expect_signed_in()
    assert cell_of(ben, code, "Status") == "Open"
    ana.edit_choice(code, "Status", "In Progress")  # ... then Ana takes it.
    pick(ben, code, "Priority", "High")  # Ben's edit comes from a stale view ...
    refusal = ben.error_message()
    expect(refusal).to_contain_text(f"{code} was changed after you loaded it")
    # ... named by the account that made it.
    expect(refusal).to_contain_text(
        f"{ana.person.name} changed the status from Open to In Progress"
    )
    ben.screenshot("stale-edit-refused")
    # Ben's table now shows the current values, without a reload; his edit was not applied.
    expect(ben.cell("Status", ben.row_of(code))).to_have_text("In Progress")
    expect(ben.cell("Priority", ben.row_of(code))).to_have_text("Low")
    ana.reload()
    assert (cell_of(ana, code, "Status"), cell_of(ana, code, "Priority")) == ("In Progress", "Low")


def test_others_changes_appear_without_a_reload(
    live_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    ana, ben = new_desk(live_app), new_desk(live_app)
    ana.load_tickets()
    ben.load_tickets()
    code = ana.add_ticket("Badge reader at the east door is dead", "High")
    # Ben did nothing: his page notices the new ticket by itself.
    expect(ben.grid().locator("td").filter(has_text=re.compile(rf"^{code}$"))).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS
    )
    ana.edit_choice(code, "Status", "Closed")
    expect(ben.cell("Status", ben.row_of(code))).to_have_text("Closed", timeout=LIVE_TIMEOUT_MS)
    ben.screenshot("change-seen-live")


RUN_COUNTER = """
(() => {
  // The runs of this page's Streamlit session, as the server reports their ends: the
  // ForwardMsg field script_finished (6), whose status is 0 for a run of the whole page,
  // 2 for a run stopped early for a rerun, 3 for a run of a fragment (bench/js/init.js).
  const finished = (window.__finishedRuns = {});
  const varint = (bytes, at) => {
    let value = 0, shift = 0, b;
    do { b = bytes[at.i++]; value += (b & 0x7f) * 2 ** shift; shift += 7; }
    while (b & 0x80 && at.i < bytes.length);
    return value;
  };
  const received = (bytes) => {
    const at = { i: 0 };
    while (at.i < bytes.length) {
      const key = varint(bytes, at), field = Math.floor(key / 8), wire = key & 7;
      if (wire === 0) {
        const value = varint(bytes, at);
        if (field === 6) finished[value] = (finished[value] || 0) + 1;
      } else if (wire === 2) {
        const length = varint(bytes, at);
        at.i += length;
      } else if (wire === 1) at.i += 8;
      else if (wire === 5) at.i += 4;
      else break;
    }
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        if (e.data instanceof ArrayBuffer) received(new Uint8Array(e.data));
      });
    }
  };
})();
"""
WHOLE_RUN, FRAGMENT_RUN = "0", "3"  # script_finished statuses, as the page counted them


def finished_runs(desk: Desk) -> dict[str, int]:
    """How many runs of `desk`'s page have ended, by status, since it was loaded."""
    counts: dict[str, int] = desk.js("({...window.__finishedRuns})")
    return counts


def test_a_change_redraws_only_the_table_of_a_list_page_and_keeps_its_view(
    live_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    """Ben searched, filtered, sorted and went to page 2; Ana changes a ticket on that page.
    Ben's grid shows it by itself, with his search, filters, order and page as they were, and
    the live view ran only the table's fragment of his page, not the whole page."""
    ana, ben = new_desk(live_app), new_desk(live_app)
    agent = ana.person.account
    printers = [
        ticket_service.create_ticket(
            live_app.engine, agent, f"Printer number {n} jams", "Low", utc_now()
        ).code
        for n in range(1, 61)
    ]
    for n in range(1, 4):
        ticket_service.create_ticket(
            live_app.engine, agent, f"Scanner number {n} is offline", "Low", utc_now()
        )
    closed = ticket_service.create_ticket(
        live_app.engine, agent, "Printer in the lobby is gone", "Low", utc_now()
    )
    ticket_service.update_ticket(
        live_app.engine, agent, closed.id, TicketChange(status="Closed"), utc_now()
    )
    ben.page.add_init_script(RUN_COUNTER)
    ben.load_tickets()
    search = ben.page.get_by_role("textbox", name="Search", exact=True)
    search.fill("printer")
    search.press("Enter")
    expect(ben.ticket_count_text()).to_contain_text("Number of tickets: 61")
    ben.wait_idle()
    ben.page.get_by_role("button", name="Filters").click()
    filters = ben.page.get_by_test_id("stPopoverBody")
    filters.get_by_test_id("stMultiSelect").filter(has_text="Status").click()
    ben.page.get_by_role("option", name="Open", exact=True).click()
    expect(ben.ticket_count_text()).to_contain_text("Number of tickets: 60")
    ben.wait_idle()
    filters.get_by_test_id("stSelectbox").filter(has_text="Order").click()
    ben.page.get_by_role("option", name="Ascending", exact=True).click()
    view = "Filters: Status Open · sorted by ID, ascending"
    expect(ben.page.get_by_test_id("stCaptionContainer").filter(has_text=view)).to_have_count(1)
    ben.wait_idle()
    ben.page.keyboard.press("Escape")  # closes the popover
    ben.page.get_by_role("button", name="Page 2", exact=True).click()
    page_two = printers[50:]
    expect(ben.grid().locator('td[id^="glide-cell-0-"]').first).to_have_text(page_two[0])
    ben.wait_idle()
    assert ben.ticket_codes() == page_two
    before = finished_runs(ben)
    assert before.get(WHOLE_RUN) == 1, before  # the page load; the rest ran the table alone

    changed = page_two[5]
    ana.load_tickets()  # the newest tickets first: page 1 of Ana's shows it
    ana.edit_choice(changed, "Priority", "High")
    expect(ben.cell("Priority", ben.row_of(changed))).to_have_text("High", timeout=LIVE_TIMEOUT_MS)
    ben.wait_idle()
    ben.screenshot("woken-table-kept-its-view")
    # Ben's view is as he left it ...
    expect(search).to_have_value("printer")
    expect(ben.page.get_by_test_id("stCaptionContainer").filter(has_text=view)).to_have_count(1)
    expect(ben.page.get_by_test_id("stPaginationPageActive")).to_have_text("2")
    assert ben.ticket_codes() == page_two
    expect(ben.ticket_count_text()).to_contain_text("Number of tickets: 60")
    # ... and the wake ran the table's fragment, not the whole page.
    after = finished_runs(ben)
    assert after.get(WHOLE_RUN) == before.get(WHOLE_RUN), (before, after)
    assert after.get(FRAGMENT_RUN, 0) > before.get(FRAGMENT_RUN, 0), (before, after)
    assert ben.page_errors == []


@pytest.fixture
def default_app(chromium: Path, tmp_path: Path) -> Iterator[AppServer]:
    """The app as deployed: the live view's own settings."""
    with run_app(tmp_path, 0) as server:
        yield server


def test_idle_pages_show_others_changes_by_themselves(
    default_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    """Ben's list and Cleo's page of one ticket are left alone: each change Ana makes shows on
    the page that shows it, without a click, a reload or a timer in the page."""
    ana, ben, cleo = new_desk(default_app), new_desk(default_app), new_desk(default_app)
    ana.load_tickets()
    ben.load_tickets()
    code = ana.add_ticket("Wi-Fi in meeting room 3 keeps dropping", "Medium")
    expect(ben.grid().locator("td").filter(has_text=re.compile(rf"^{code}$"))).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS
    )
    cleo.page.goto(f"{default_app.url}/?ticket={code}")
    expect(cleo.page.get_by_role("heading", name=code)).to_be_visible()
    cleo.wait_idle()
    expect(cleo.page.get_by_text("version 1", exact=False)).to_be_visible()

    ana.edit_choice(code, "Status", "In Progress")
    expect(ben.cell("Status", ben.row_of(code))).to_have_text(
        "In Progress", timeout=LIVE_TIMEOUT_MS
    )
    expect(cleo.page.get_by_text("version 2", exact=False)).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    ticket_service.add_message(
        default_app.engine,
        ana.person.account,
        parse_ticket_code(code),
        MessageKind.REPLY,
        "The access point was replaced this morning.",
        utc_now(),
    )
    expect(cleo.page.get_by_text("The access point was replaced this morning.")).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )
    cleo.screenshot("ticket-page-follows-changes")
    assert ben.page_errors == cleo.page_errors == []


def test_a_saved_edit_stays_in_the_grid_until_someone_changes_that_ticket(
    live_app: AppServer, new_desk: Callable[..., Desk]
) -> None:
    """After a save the grid keeps its edits instead of being redrawn (they are what the
    database holds): a second edit must write only itself, and a later change by someone else
    to the same ticket must replace what the grid kept."""
    ana, ben = new_desk(live_app), new_desk(live_app)
    ana.load_tickets()
    first = ana.add_ticket("Projector in room 4 flickers", "Low")
    second = ana.add_ticket("Scanner on floor 3 is offline", "Low")
    ana.edit_choice(first, "Status", "Closed")
    ana.edit_choice(second, "Priority", "High")  # the same grid, its first edit still kept
    ben.load_tickets()
    expect(ben.cell("Status", ben.row_of(first))).to_have_text("Closed")
    ben.edit_choice(first, "Status", "In Progress")
    expect(ana.cell("Status", ana.row_of(first))).to_have_text(
        "In Progress", timeout=LIVE_TIMEOUT_MS
    )
    expect(ana.cell("Priority", ana.row_of(second))).to_have_text("High")
    ana.screenshot("kept-edit-replaced-by-a-later-change")
    agent = ana.person.account
    status_changes = [
        (c.old_value, c.new_value, c.actor)
        for c in ticket_service.ticket_history(live_app.engine, agent, parse_ticket_code(first))
        if c.kind is EventKind.STATUS
    ]
    assert status_changes == [
        ("Open", "Closed", ana.person.name),
        ("Closed", "In Progress", ben.person.name),
    ]
    priority_changes = [
        (c.old_value, c.new_value)
        for c in ticket_service.ticket_history(live_app.engine, agent, parse_ticket_code(second))
        if c.kind is EventKind.PRIORITY
    ]
    assert priority_changes == [("Low", "High")]
    assert ana.page_errors == ben.page_errors == []


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    """A PostgreSQL schema of its own, dropped afterwards; its URL."""
    with databases.postgres_schema("e2e") as url:
        yield url


@needs_postgres
def test_two_app_servers_on_one_postgres(
    chromium: Path,
    tmp_path: Path,
    postgres_schema: str,
    new_desk: Callable[..., Desk],
) -> None:
    # Neither server reads the desk by itself within the test (every 300 s, and a fallback
    # every 3000 s): what each shows of the other's changes came with their announcements.
    announced_only = {"TICKETDESK_LIVE_SECONDS": "300"}
    with (
        run_app(tmp_path, 0, postgres_schema, announced_only, "server-1.log") as one,
        run_app(tmp_path, 0, postgres_schema, announced_only, "server-2.log") as two,
    ):
        assert one.url != two.url
        ana, ben = new_desk(one), new_desk(two)
        ana.load_tickets()
        ben.load_tickets()
        code = ana.add_ticket("VPN drops every hour for the Lisbon office", "Medium")
        expect(ben.grid().locator("td").filter(has_text=re.compile(rf"^{code}$"))).to_have_count(
            1, timeout=LIVE_TIMEOUT_MS
        )
        ben.reload()  # seen live above; a fresh page for the edit helpers' header map
        ben.edit_choice(code, "Priority", "High")  # through server 2 ...
        expect(ana.cell("Priority", ana.row_of(code))).to_have_text(  # ... seen via server 1
            "High", timeout=LIVE_TIMEOUT_MS
        )
        ana.screenshot("server-1-sees-server-2")
        ben.page.goto(f"{two.url}/?ticket={code}")  # a ticket's page follows it too
        expect(ben.page.get_by_text("version 2", exact=False)).to_be_visible()
        ana.edit_choice(code, "Status", "Closed")
        expect(ben.page.get_by_text("version 3", exact=False)).to_be_visible(
            timeout=LIVE_TIMEOUT_MS
        )


class Proxy:
    """A TCP proxy to PostgreSQL that the test can cut and restore: a database outage."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.port = target, free_port()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        """Refuse new connections and drop the open ones."""
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
            self._open.clear()


@needs_postgres
def test_a_page_says_the_database_is_down_and_recovers_by_itself(
    chromium: Path,
    tmp_path: Path,
    postgres_schema: str,
    new_desk: Callable[..., Desk],
) -> None:
    proxy = Proxy(("127.0.0.1", 5432))
    proxy.start()
    through_proxy = postgres_schema.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert through_proxy != postgres_schema, "the test PostgreSQL URL must name 127.0.0.1:5432"
    env = {"TICKETDESK_LIVE_SECONDS": "1"}
    try:
        with run_app(tmp_path, 0, through_proxy + "&connect_timeout=2", env) as server:
            ana = new_desk(server)
            ana.load_tickets()
            code = ana.add_ticket("Projector in room 4 flickers", "Low")
            proxy.cut()
            outage = ana.page.get_by_test_id("stAlertContentWarning")
            expect(outage).to_contain_text("cannot be reached", timeout=LIVE_TIMEOUT_MS)
            ana.screenshot("database-down")
            proxy.start()
            # Back by itself: the warning goes and the table is there again, no reload.
            expect(outage).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
            expect(
                ana.grid().locator("td").filter(has_text=re.compile(rf"^{code}$"))
            ).to_have_count(1)
            ana.screenshot("database-back")
    finally:
        proxy.cut()
