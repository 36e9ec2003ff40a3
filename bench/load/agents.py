"""What a support agent does with the desk, over the protocol (ProtocolAgent, one Tab) or in
Chromium (BrowserAgent): sign in, open the Tickets page, then every 20-60 s (the think time,
from the end of one action to the next; random, seeded per agent) one of

- on the list: open a ticket (a page load of ?ticket=<a code from the grid's page>), search
  (type a word and press Enter, or clear the search), go to the next page, or reload the list;
- on a ticket: change its status (pick another one and Save), reply (write and Send), or go
  back to the list (the "All tickets" button).

Each action lasts until its result is drawn, as a person looks for it: the grid (with other
tickets, after paging or searching), the ticket's title, "Saved.", the reply in the
conversation. An exception or error alert instead, or nothing within the time limit, and the
action is recorded as failed (and the agent reloads the list), never silently as fast."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bench.harness.common import JS, js
from bench.load.protocol import Element, Page
from bench.load.tab import ActionFailed, Shown, Tab, client_address, new_http, sign_in
from tests.support.cluster import STICKY_COOKIE

LIST_MIX: Sequence[tuple[str, int]] = (
    ("open_ticket", 40),
    ("search", 25),
    ("page", 25),
    ("load_list", 10),
)
TICKET_MIX: Sequence[tuple[str, int]] = (("reply", 35), ("status", 35), ("back_to_list", 30))
KINDS = ("load_list", "open_ticket", "search", "page", "status", "reply", "back_to_list")
"""Every action kind, in the order the report lists them."""
SEARCH_WORDS = ("printer", "VPN", "backup", "Berlin", "crashing", "storage", "finance", "email")
BACK_LABELS = ("All tickets", "My tickets")
SAVED = re.compile(r"^Saved\.$")
LEFT = -1.0
"""The delay recorded for a change whose watcher acted before its grid was drawn again."""


@dataclass
class Sample:
    """One action: who (client "protocol" or "browser"), what, when it started
    (time.perf_counter()), how long until its run ended (`seconds`; for browsers until the
    page showed the result, idle) and the run part (`run`: from the request, or for browsers
    from the click, to its script_finished), and its outcome ("ok", "timeout", "error: ...")."""

    client: str
    agent: str
    kind: str
    at: float
    seconds: float | None
    run: float | None
    run_started: float | None  # protocol: when the run that drew the result began
    outcome: str
    ticket: str | None = None  # the ticket the action was on (its page), e.g. TICKET-12


Record = Callable[[Sample], None]
Done = tuple[float, float | None, float | None]
"""What an action took: (seconds, run seconds, when the run that drew its result began)."""


class Control:
    """Whether the agents act now (the runner switches it); agents wait on it."""

    def __init__(self) -> None:
        self.acting = False
        self._changed = asyncio.Event()

    def set(self, acting: bool) -> None:
        self.acting = acting
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, seconds: float | None = None) -> bool:
        """Wait until the switch flips (True) or `seconds` pass (False)."""
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            return False
        return True


@dataclass(frozen=True)
class Think:
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


class Agent(ABC):
    """The loop shared by both kinds of agent: while the control says act, one action after
    each think time; every action recorded."""

    client = "?"

    def __init__(
        self,
        name: str,
        email: str,
        password: str,
        base_url: str,
        seed: int,
        think: Think,
        timeout_s: float,
        tickets: int,
        record: Record,
        index: int = 0,
    ) -> None:
        self.name, self.email, self.password = name, email, password
        self.index = index  # which agent of the run: its client address
        self.base_url = base_url.rstrip("/")
        self.rng = random.Random(seed)
        self.think = think
        self.timeout_s = timeout_s
        self.tickets = tickets
        self.record = record
        self.where = "list"
        self.ticket: str | None = None
        """The code of the ticket whose page is open (where == "ticket")."""
        self.busy = False
        self.replies = 0
        self.watching: list[list[float | None]] = []
        """Others' changes this page has not shown yet (see steps.Run.watch)."""

    def choose(self) -> str:
        mix = TICKET_MIX if self.where == "ticket" else LIST_MIX
        kinds = [kind for kind, _weight in mix]
        return self.rng.choices(kinds, weights=[weight for _kind, weight in mix])[0]

    def random_code(self) -> str:
        return f"TICKET-{self.rng.randint(1, max(self.tickets, 1))}"

    async def act(self, kind: str | None = None) -> Sample:
        """One action (chosen from the mix unless given), timed, checked and recorded."""
        kind = kind or self.choose()
        self.busy = True
        for change in self.watching:  # the person acts: no longer a page left open
            change[1] = LEFT
        self.watching.clear()
        started = time.perf_counter()
        on = self.ticket if self.where == "ticket" else None
        try:
            done = await asyncio.wait_for(self.perform(kind), self.timeout_s)
            sample = Sample(self.client, self.name, kind, started, *done, "ok", on)
        except Exception as exc:
            outcome = "timeout" if is_timeout(exc) else f"error: {type(exc).__name__}: {exc}"
            sample = Sample(
                self.client, self.name, kind, started, None, None, None, outcome[:300], on
            )
        self.record(sample)
        if sample.outcome != "ok" and kind != "load_list":
            with contextlib.suppress(Exception):  # start afresh, as a person would
                await asyncio.wait_for(self.perform("load_list"), self.timeout_s)
        self.busy = False
        return sample

    async def run(self, control: Control) -> None:
        """Act while `control` says so, one action per think time; first actions are spread
        over one mean think time, so that the load is steady at once."""
        while True:
            if not control.acting:
                await control.wait()
                continue
            if await control.wait(self.rng.uniform(0, self.think.mean)):
                continue
            while control.acting:
                await self.act()
                if await control.wait(self.rng.uniform(self.think.low, self.think.high)):
                    break

    @abstractmethod
    async def start(self) -> None:
        """Sign in and open the Tickets page (not recorded)."""

    @abstractmethod
    async def perform(self, kind: str) -> Done:
        """Do `kind` (see Done). Raises ActionFailed when it did not work."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def sticky(self) -> str | None:
        """The app server the proxy's sticky cookie names (None: no proxy, or no cookie)."""


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError"


# --------------------------------------------------------------------------- the protocol


def the_grid(elements: list[Element]) -> Element | None:
    """The ticket grid among `elements` (the latest dataframe keyed grid-..., or any)."""
    grids = [e for e in elements if e.kind == "dataframe"]
    keyed = [e for e in grids if (e.key or "").startswith("grid")]
    return (keyed or grids)[-1] if grids else None


def codes_of(grid: Element | None) -> list[str]:
    """The ticket codes a grid shows (its ID column, from its Arrow data)."""
    if grid is None:
        return []
    try:
        import pyarrow as pa

        table = pa.ipc.open_stream(grid.proto.arrow_data.data).read_all()
        return [str(code) for code in table.column("ID").to_pylist() if code]
    except Exception:  # no pyarrow, no ID column: the caller picks a code at random
        return []


def grid_codes(page: Page) -> list[str]:
    """The ticket codes of the grid on the page."""
    return codes_of(the_grid(page.since(0)))


def grid_shown(before: list[str] | None = None) -> Shown:
    """The ticket grid drawn by the answer, with other tickets than `before` (the page or
    search changed what it lists), or an error."""

    def shown(page: Page, seq: int) -> bool:
        if page.errors(seq):
            return True
        grid = the_grid(page.since(seq))
        return grid is not None and (not before or codes_of(grid) != before)

    return shown


def text_shown(wanted: Callable[[str], bool]) -> Shown:
    """A text element the answer drew for which `wanted` holds, or an error."""

    def shown(page: Page, seq: int) -> bool:
        return bool(page.errors(seq)) or any(wanted(t) for t in page.texts(seq))

    return shown


class ProtocolAgent(Agent):
    """An agent over Streamlit's protocol (tab.py). Each action waits until its result is
    drawn, as a person looks for it: the grid (with other tickets, after paging or a search),
    the ticket's title, "Saved.", or the reply in the conversation; an error drawn instead
    ends it as failed."""

    client = "protocol"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        address = client_address(self.index)
        self.http: httpx.AsyncClient = new_http(self.base_url, self.timeout_s, address)
        self.tab = Tab(self.http, self.timeout_s, address)

    async def start(self) -> None:
        await sign_in(self.http, self.email, self.password)
        await self.perform("load_list")

    async def close(self) -> None:
        await self.tab.close()
        await self.http.aclose()

    async def sticky(self) -> str | None:
        # The client keeps the proxy's cookie with the others: it goes with every request
        # and with the WebSocket's upgrade (Tab.load sends all of them).
        return self.http.cookies.get(STICKY_COOKIE)

    async def perform(self, kind: str) -> Done:
        page = self.tab.page
        if kind == "load_list":
            timing = await self.tab.load("", grid_shown())
            self.where = "list"
        elif kind == "open_ticket":
            code = self.rng.choice(grid_codes(page) or [self.random_code()])
            timing = await self.tab.load(f"ticket={code}", text_shown(lambda t: t == code))
            self.where, self.ticket = "ticket", code
        elif kind == "back_to_list":
            button = self._need(page.find(labels=BACK_LABELS, kinds=("button",)), "back button")
            msg = page.rerun(trigger=button, fragment_id=button.fragment_id)
            timing = await self.tab.act(msg, grid_shown())
            self.where = "list"
        elif kind == "page":
            pager = self._need(page.find(keys=("page",), kinds=("pagination",)), "pager")
            current = page.value(pager) or 1
            target = current + 1 if current < pager.proto.num_pages else 1
            before = grid_codes(page) if target != current else None
            msg = page.rerun({pager: target}, fragment_id=pager.fragment_id)
            timing = await self.tab.act(msg, grid_shown(before))
        elif kind == "search":
            box = self._need(
                page.find(keys=("search",), labels=("Search",), kinds=("text_input",)), "search"
            )
            term = "" if page.value(box) else self.rng.choice(SEARCH_WORDS)
            submit = page.submit_button(box)  # a search inside a form needs its button
            fragment = (submit or box).fragment_id
            msg = page.rerun({box: term}, trigger=submit, fragment_id=fragment)
            timing = await self.tab.act(msg, grid_shown(grid_codes(page)))
        elif kind == "status":
            field = self._need(
                page.find(keys=("detail_status",), labels=("Status",), kinds=("selectbox",)),
                "status field",
            )
            save = self._need(page.submit_button(field), "Save button")
            current = page.value(field)
            target = self.rng.choice([o for o in field.proto.options if o != current])
            msg = page.rerun({field: target}, trigger=save, fragment_id=save.fragment_id)
            timing = await self.tab.act(msg, text_shown(lambda t: bool(SAVED.match(t))))
        elif kind == "reply":
            box = self._need(
                page.find(keys=("message_body",), labels=("Message",), kinds=("text_area",)),
                "message box",
            )
            send = self._need(page.submit_button(box), "Send button")
            self.replies += 1
            text = f"Load test reply {self.replies} from {self.name}"
            msg = page.rerun({box: text}, trigger=send, fragment_id=send.fragment_id)
            timing = await self.tab.act(msg, text_shown(lambda t: text in t))
        else:
            raise ValueError(f"no action {kind!r}")
        if errors := self.tab.page.errors(timing.sent_seq):
            raise ActionFailed(f"the page shows an error: {errors[0][:200]}")
        return timing.seconds, timing.run, timing.run_started

    def _need(self, element: Element | None, what: str) -> Element:
        if element is None:
            raise ActionFailed(f"no {what} on the page")
        return element


# --------------------------------------------------------------------------- Chromium

POLL_MS = 25


class BrowserAgent(Agent):
    """An agent in a real Chromium page (Playwright), timed inside the page (bench/js/init.js
    and shown.js): from the click or key press (or navigation start, for page loads) until the
    result is on screen, after a script run begun after the action ended, as the protocol
    agents wait for it; `run` is until the script_finished the page had then received."""

    client = "browser"

    def __init__(self, *args: Any, browser: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.browser = browser
        self.context: Any = None
        self.page: Any = None

    async def start(self) -> None:
        self.context = await self.browser.new_context(viewport={"width": 1400, "height": 1000})
        await self.context.add_init_script(path=str(JS / "init.js"))
        self.context.set_default_timeout(self.timeout_s * 1000)
        form = await self.context.request.get(f"{self.base_url}/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', await form.text())
        if csrf is None:
            raise ActionFailed("no sign-in form")
        answer = await self.context.request.post(
            f"{self.base_url}/signin",
            form={"email": self.email, "password": self.password, "csrf": csrf[1], "next": "/"},
            max_redirects=0,
        )
        if answer.status != 303:
            raise ActionFailed(f"sign-in refused: HTTP {answer.status}")
        self.page = await self.context.new_page()
        await self.perform("load_list")

    async def close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(Exception):
                await self.context.close()

    async def sticky(self) -> str | None:
        # The context's cookies, which its request API (the sign-in) shares with its pages.
        if self.context is None:
            return None
        try:
            cookies = await self.context.cookies()
        except Exception:  # the browser is gone: the session is on no server
            return None
        return next((c["value"] for c in cookies if c["name"] == STICKY_COOKIE), None)

    async def _shown(
        self,
        since: str,
        *,
        text: Sequence[str] = (),
        grid: bool = False,
        grid_not: str | None = None,
        fail_on_alert: bool = False,
    ) -> tuple[float, float]:
        """(seconds until the result was on screen, until the script_finished received
        then, or the first one after it)."""
        spec = {
            "since": since,
            "text": list(text),
            "grid": grid,
            "gridNot": grid_not,
            "failOnAlert": fail_on_alert,
        }
        handle = await self.page.wait_for_function(
            js("shown.js"), arg=spec, polling=POLL_MS, timeout=self.timeout_s * 1000
        )
        marks: dict[str, Any] = await handle.json_value()
        if marks.get("app_error"):
            raise ActionFailed(f"the page shows an error: {marks['app_error']}")
        shown: float = marks["shown"]
        finishes: list[float] = marks["finishes"]
        before = [f for f in finishes if f <= shown]
        run_end = before[-1] if before else finishes[0]
        return shown / 1000, run_end / 1000

    async def _codes(self) -> list[str]:
        with contextlib.suppress(Exception):
            cells = self.page.locator('[data-testid="stDataFrame"] [id^="glide-cell-0-"]')
            return [c.strip() for c in await cells.all_text_contents() if c.strip()]
        return []

    async def perform(self, kind: str) -> Done:
        page = self.page
        if kind == "load_list":
            await page.goto(f"{self.base_url}/", wait_until="commit")
            result = await self._shown("navigation", grid=True, fail_on_alert=True)
            self.where = "list"
        elif kind == "open_ticket":
            code = self.rng.choice(await self._codes() or [self.random_code()])
            await page.goto(f"{self.base_url}/?ticket={code}", wait_until="commit")
            result = await self._shown(
                "navigation", text=[rf"{code}(?!\d)", "Conversation"], fail_on_alert=True
            )
            self.where, self.ticket = "ticket", code
        elif kind == "back_to_list":
            await page.get_by_role("button", name=re.compile("^(All|My) tickets$")).click()
            result = await self._shown("input", grid=True)
            self.where = "list"
        elif kind in ("page", "search"):
            codes = await self._codes()
            first = codes[0] if codes else None
            if kind == "page":
                after = page.get_by_test_id("stPaginationNext")
                if await after.is_disabled():
                    await page.get_by_role("button", name="Page 1", exact=True).click()
                else:
                    await after.click()
            else:
                box = page.get_by_role("textbox", name="Search", exact=True)
                term = "" if await box.input_value() else self.rng.choice(SEARCH_WORDS)
                await box.fill(term)
                await box.press("Enter")
            result = await self._shown("input", grid=True, grid_not=first)
        elif kind == "status":
            combo = page.get_by_role("combobox", name="Status", exact=True)
            current = await combo.input_value()
            await combo.click()
            await page.get_by_role("option").first.wait_for()
            options = [o.strip() for o in await page.get_by_role("option").all_text_contents()]
            target = self.rng.choice([o for o in options if o and o != current])
            await page.get_by_role("option", name=target, exact=True).click()
            await page.get_by_role("button", name="Save", exact=True).click()
            result = await self._shown("input", text=[r"Saved\."], fail_on_alert=True)
        elif kind == "reply":
            self.replies += 1
            text = f"Load test reply {self.replies} from {self.name}"
            await page.get_by_label("Message", exact=True).fill(text)
            await page.get_by_role("button", name="Send", exact=True).click()
            result = await self._shown("input", text=[re.escape(text)], fail_on_alert=True)
        else:
            raise ValueError(f"no action {kind!r}")
        return (*result, None)
