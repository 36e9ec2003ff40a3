"""What a support agent does with the desk, over the protocol (ProtocolAgent, one Tab) or in
Chromium (BrowserAgent): sign in, open the Tickets page, then every 20-60 s (the think time,
from the end of one action to the next; random, seeded per agent) one of

- on the list: open a ticket (a page load of ?ticket=<a code from the grid's page>), search
  (type a word and press Enter, or clear the search), go to the next page, or reload the list;
- on a ticket: change its status (pick another one and Save), reply (write and Send), or go
  back to the list (the "All tickets" button).

Each action is timed and checked: a page load must show its grid or ticket, a save "Saved.",
a reply "... added.", and no page may show an exception or an error alert; an action that
fails is recorded as such (and the agent reloads the list), never silently as fast."""

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
from bench.load.tab import ActionFailed, Tab, client_address, new_http, sign_in

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
ADDED = re.compile(r"(Public reply|Internal note|Requester's message) added\.")
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
    outcome: str


Record = Callable[[Sample], None]


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
        try:
            seconds, run = await asyncio.wait_for(self.perform(kind), self.timeout_s)
            sample = Sample(self.client, self.name, kind, started, seconds, run, "ok")
        except Exception as exc:
            outcome = "timeout" if is_timeout(exc) else f"error: {type(exc).__name__}: {exc}"
            sample = Sample(self.client, self.name, kind, started, None, None, outcome[:300])
        finally:
            self.busy = False
        self.record(sample)
        if sample.outcome != "ok" and kind != "load_list":
            with contextlib.suppress(Exception):  # start afresh, as a person would
                await asyncio.wait_for(self.perform("load_list"), self.timeout_s)
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
    async def perform(self, kind: str) -> tuple[float, float | None]:
        """Do `kind`; (seconds, run seconds). Raises ActionFailed when it did not work."""

    @abstractmethod
    async def close(self) -> None: ...


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError"


# --------------------------------------------------------------------------- the protocol


def grid_codes(page: Page) -> list[str]:
    """The ticket codes of the grid on the page (its ID column, from the Arrow data)."""
    grids = [e for e in page.of_kind("dataframe") if (e.key or "").startswith("grid")]
    if not grids:
        grids = page.of_kind("dataframe")
    if not grids:
        return []
    try:
        import pyarrow as pa

        table = pa.ipc.open_stream(grids[-1].proto.arrow_data.data).read_all()
        return [str(code) for code in table.column("ID").to_pylist() if code]
    except Exception:  # no pyarrow, no ID column: the caller picks a code at random
        return []


class ProtocolAgent(Agent):
    """An agent over Streamlit's protocol (tab.py)."""

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

    async def perform(self, kind: str) -> tuple[float, float | None]:
        page = self.tab.page
        if kind == "load_list":
            timing = await self.tab.load("")
            self._check_list()
        elif kind == "open_ticket":
            code = self.rng.choice(grid_codes(page) or [self.random_code()])
            timing = await self.tab.load(f"ticket={code}")
            self._check(lambda p: any(t == code for t in p.texts()), f"{code}'s page")
            self.where = "ticket"
        elif kind == "back_to_list":
            button = self._need(page.find(labels=BACK_LABELS, kinds=("button",)), "back button")
            timing = await self.tab.act(
                page.rerun(trigger=button, fragment_id=button.fragment_id), button.fragment_id
            )
            self._check_list()
        elif kind == "page":
            pager = self._need(page.find(keys=("page",), kinds=("pagination",)), "pager")
            current = page.value(pager) or 1
            target = current + 1 if current < pager.proto.num_pages else 1
            msg = page.rerun({pager: target}, fragment_id=pager.fragment_id)
            timing = await self.tab.act(msg, pager.fragment_id)
            pager = self._need(page.find(keys=("page",), kinds=("pagination",)), "pager")
            self._check(lambda p: p.value(pager) == target, f"page {target}")
        elif kind == "search":
            box = self._need(
                page.find(keys=("search",), labels=("Search",), kinds=("text_input",)), "search"
            )
            term = "" if page.value(box) else self.rng.choice(SEARCH_WORDS)
            submit = page.submit_button(box)  # a search inside a form needs its button
            fragment = (submit or box).fragment_id
            timing = await self.tab.act(
                page.rerun({box: term}, trigger=submit, fragment_id=fragment), fragment
            )
            self._check_list()
        elif kind == "status":
            timing = await self._status(page)
        elif kind == "reply":
            timing = await self._reply(page)
        else:
            raise ValueError(f"no action {kind!r}")
        return timing.seconds, timing.run

    async def _status(self, page: Page) -> Any:
        field = self._need(
            page.find(keys=("detail_status",), labels=("Status",), kinds=("selectbox",)),
            "status field",
        )
        save = self._need(page.submit_button(field), "Save button")
        current = page.value(field)
        target = self.rng.choice([o for o in field.proto.options if o != current])
        msg = page.rerun({field: target}, trigger=save, fragment_id=save.fragment_id)
        timing = await self.tab.act(msg, save.fragment_id)
        self._check(lambda p: any(SAVED.match(t) for t in p.texts()), '"Saved."')
        return timing

    async def _reply(self, page: Page) -> Any:
        box = self._need(
            page.find(keys=("message_body",), labels=("Message",), kinds=("text_area",)),
            "message box",
        )
        send = self._need(page.submit_button(box), "Send button")
        self.replies += 1
        text = f"Load test reply {self.replies} from {self.name}"
        msg = page.rerun({box: text}, trigger=send, fragment_id=send.fragment_id)
        timing = await self.tab.act(msg, send.fragment_id)
        self._check(lambda p: any(ADDED.search(t) for t in p.texts()), '"... added."')
        return timing

    def _need(self, element: Element | None, what: str) -> Element:
        if element is None:
            raise ActionFailed(f"no {what} on the page")
        return element

    def _check(self, holds: Callable[[Page], bool], what: str) -> None:
        page = self.tab.page
        if errors := page.errors():
            raise ActionFailed(f"the page shows an error: {errors[0][:200]}")
        if not holds(page):
            alerts = [e.text for e in page.of_kind("alert")]  # e.g. "the database is busy"
            said = f" (it says: {alerts[-1][:150]!r})" if alerts else ""
            raise ActionFailed(f"the page does not show {what}{said}")

    def _check_list(self) -> None:
        self._check(lambda p: bool(p.of_kind("dataframe")), "the ticket grid")
        self.where = "list"


# --------------------------------------------------------------------------- Chromium

POLL_MS = 25


class BrowserAgent(Agent):
    """An agent in a real Chromium page (Playwright), timed inside the page by
    bench/js/init.js and done.js as bench/run.py times it: from the click or key press (or
    navigation start, for page loads) until the result is drawn and the app is idle; `run` is
    until the answering run's script_finished reached the page."""

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

    async def _done(self, since: str, want: list[str], **extra: Any) -> tuple[float, float]:
        spec = {"name": "load", "since": since, "want": want, "text": [], "cell": [], **extra}
        spec["name"] = f"a{time.perf_counter()}"  # marks per action
        handle = await self.page.wait_for_function(
            js("done.js"), arg=spec, polling=POLL_MS, timeout=self.timeout_s * 1000
        )
        marks: dict[str, Any] = await handle.json_value()
        if marks.get("app_error"):
            raise ActionFailed(f"the page shows an error: {marks['app_error']}")
        shown = max(marks[w] for w in want) if want else marks["run_end"]
        return shown / 1000, marks["run_end"] / 1000

    async def _codes(self) -> list[str]:
        with contextlib.suppress(Exception):
            cells = self.page.locator('[data-testid="stDataFrame"] [id^="glide-cell-0-"]')
            return [c.strip() for c in await cells.all_text_contents() if c.strip()]
        return []

    async def perform(self, kind: str) -> tuple[float, float | None]:
        page = self.page
        if kind == "load_list":
            await page.goto(f"{self.base_url}/", wait_until="commit")
            result = await self._done("navigation", ["grid"], failOnAlert=True)
            self.where = "list"
        elif kind == "open_ticket":
            code = self.rng.choice(await self._codes() or [self.random_code()])
            await page.goto(f"{self.base_url}/?ticket={code}", wait_until="commit")
            result = await self._done(
                "navigation", ["text"], text=[rf"{code}(?!\d)", "Conversation"], failOnAlert=True
            )
            self.where = "ticket"
        elif kind == "back_to_list":
            await page.get_by_role("button", name=re.compile("^(All|My) tickets$")).click()
            result = await self._done("input", ["grid"])
            self.where = "list"
        elif kind == "page":
            after = page.get_by_test_id("stPaginationNext")
            if await after.is_disabled():
                await page.get_by_role("button", name="Page 1", exact=True).click()
            else:
                await after.click()
            result = await self._done("input", ["grid"])
        elif kind == "search":
            box = page.get_by_role("textbox", name="Search", exact=True)
            term = "" if await box.input_value() else self.rng.choice(SEARCH_WORDS)
            await box.fill(term)
            await box.press("Enter")
            result = await self._done("input", ["text"], text=["Number of tickets"])
        elif kind == "status":
            combo = page.get_by_role("combobox", name="Status", exact=True)
            current = await combo.input_value()
            await combo.click()
            await page.get_by_role("option").first.wait_for()
            options = [o.strip() for o in await page.get_by_role("option").all_text_contents()]
            target = self.rng.choice([o for o in options if o and o != current])
            await page.get_by_role("option", name=target, exact=True).click()
            await page.get_by_role("button", name="Save", exact=True).click()
            result = await self._done("input", ["text"], text=[r"Saved\."], failOnAlert=True)
        elif kind == "reply":
            self.replies += 1
            await page.get_by_label("Message", exact=True).fill(
                f"Load test reply {self.replies} from {self.name}"
            )
            await page.get_by_role("button", name="Send", exact=True).click()
            result = await self._done("input", ["text"], text=[ADDED.pattern], failOnAlert=True)
        else:
            raise ValueError(f"no action {kind!r}")
        return result
