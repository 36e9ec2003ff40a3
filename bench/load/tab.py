"""One browser tab of the desk, without a browser: the sign-in form over HTTP, page loads (the
document, Streamlit's health and host-config requests, then the WebSocket at
/_stcore/stream), rerun requests, and the timed fragment reruns a browser sends by itself.

Everything a real browser sends that reaches the server's Python is sent too, in the same
order; what only a browser does (fetching its cached scripts, drawing) is not. Times are taken
with time.perf_counter() in this process, so a busy load generator adds to them: the run
reports the generator's own CPU and how late its event loop ran (steps.py)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from bench.load.protocol import Finished, Page

SESSION_COOKIE = "ticketdesk_session"
XSRF_COOKIE = "_streamlit_xsrf"
HTML = "text/html,application/xhtml+xml"


Shown = Callable[[Page, int], bool]
"""Whether the page shows an action's result (or an error), drawn after message `seq`."""


class ActionFailed(RuntimeError):
    """An action did not do what it should (refused, an error on the page, connection lost)."""


@dataclass(frozen=True)
class Timing:
    """An action's time: `seconds` from its first request (the document's GET for a page
    load, the BackMsg otherwise) to the script_finished of the run that drew its result;
    `run` from the rerun request alone to that message."""

    seconds: float
    run: float
    finished: Finished
    sent_seq: int  # the last message received before the request
    run_started: float  # when that run's new_session arrived (its callbacks ran first thing)


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> None:
    """The sign-in form as a browser fills it in: GET /signin (its CSRF cookie and field),
    then the POST with the browser's Origin; the client keeps the session cookie."""
    form = await http.get("/signin", headers={"Accept": HTML})
    form.raise_for_status()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if csrf is None:
        raise ActionFailed("no sign-in form at /signin")
    origin = str(http.base_url).rstrip("/")
    answer = await http.post(
        "/signin",
        data={"email": email, "password": password, "csrf": csrf[1], "next": "/"},
        headers={"Accept": HTML, "Origin": origin, "Referer": f"{origin}/signin"},
    )
    if answer.status_code != 303 or SESSION_COOKIE not in http.cookies:
        raise ActionFailed(f"sign-in of {email} refused: HTTP {answer.status_code}")


def client_address(index: int) -> str:
    """Agent `index`'s own loopback address (127.0.0.0/8 is all loopback on Linux), as each
    person's own machine: the desk throttles sign-ins per client address, counting each one
    in flight as a failure until it succeeds, so a few dozen people signing in at once from
    one address are refused (HTTP 429) while argon2 is slow."""
    return f"127.2.{index // 250}.{1 + index % 250}"


def new_http(base_url: str, timeout_s: float, address: str | None = None) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address) if address else None
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        transport=transport,
    )


class Tab:
    """One tab, signed in through `http` (whose cookies it sends). `load` opens a page (a new
    WebSocket, as a browser's navigation does); `act` sends a request and waits for its run.
    Only one action at a time; the fragment timers run meanwhile, as in a browser."""

    def __init__(
        self, http: httpx.AsyncClient, timeout_s: float, address: str | None = None
    ) -> None:
        self.http = http
        self.address = address
        self.timeout_s = timeout_s
        self.page = Page(url=str(http.base_url))
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._timers: dict[str, tuple[float, asyncio.Task[None]]] = {}
        self._waiter: tuple[int, Shown, asyncio.Future[tuple[float, float, Finished]]] | None = None
        self.closed_reason: str | None = None
        self.runs = 0  # script runs that ended, timers' included
        self.run_started = 0.0  # when the current run's new_session arrived
        self.on_grid: Callable[[float, float], None] | None = None
        """Called with (now, when the run began) each time the ticket grid is drawn."""

    # ----------------------------------------------------------------- page loads

    async def load(self, query: str, shown: Shown) -> Timing:
        """Open the desk at /?<query> in this tab: the document, /_stcore/health and
        /_stcore/host-config, the WebSocket, and the first runs, until `shown`."""
        await self.close()
        started = time.perf_counter()
        document = await self.http.get(
            "/" + (f"?{query}" if query else ""), headers={"Accept": HTML}
        )
        if document.status_code != 200:
            raise ActionFailed(f"page load refused: HTTP {document.status_code}")
        for path in ("/_stcore/health", "/_stcore/host-config"):
            (await self.http.get(path)).raise_for_status()
        base = str(self.http.base_url).rstrip("/")
        self.page = Page(url=f"{base}/", query_string=query)
        cookies = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        # loop.create_connection's: the agent's own client address
        socket_options: dict[str, Any] = {"local_addr": (self.address, 0)} if self.address else {}
        protocols = [Subprotocol("streamlit")]
        if xsrf := self.http.cookies.get(XSRF_COOKIE):
            protocols.append(Subprotocol(xsrf))
        self._ws = await connect(
            base.replace("http", "ws", 1) + "/_stcore/stream",
            origin=Origin(base),
            subprotocols=protocols,
            additional_headers={"Cookie": cookies},
            open_timeout=self.timeout_s,
            ping_interval=None,  # browsers send no pings (they answer the server's)
            max_size=None,
            proxy=None,
            **socket_options,
        )
        self.closed_reason = None
        self._reader = asyncio.create_task(self._read(self._ws), name="tab-reader")
        timing = await self.act(self.page.first_rerun(), shown)
        return Timing(
            time.perf_counter() - started,
            timing.run,
            timing.finished,
            timing.sent_seq,
            timing.run_started,
        )

    async def act(self, msg: BackMsg, shown: Shown) -> Timing:
        """Send a rerun request (made by self.page.rerun) and wait until the end of a run
        begun after it at which `shown(page, seq)` holds, `seq` being the number of the last
        message received before the request (so that `page.since(seq)` is what the answer
        drew). Not simply the first run to end: the server may merge the request into a run
        it was starting anyway, stop the request's run for another (FINISHED_EARLY_FOR_RERUN,
        after it drew its result) or lose a click in a merge; the person sees the result, or
        does not."""
        if self._ws is None or self.closed_reason:
            raise ActionFailed(f"the connection is closed ({self.closed_reason})")
        if self._waiter is not None:
            raise RuntimeError("one action at a time per tab")
        future: asyncio.Future[tuple[float, float, Finished]] = (
            asyncio.get_running_loop().create_future()
        )
        sent_seq = self.page.seq
        self._waiter = (sent_seq, shown, future)
        started = time.perf_counter()
        try:
            await self._ws.send(msg.SerializeToString())
            ended, run_started, finished = await asyncio.wait_for(future, self.timeout_s)
        finally:
            self._waiter = None
        run = ended - started
        return Timing(run, run, finished, sent_seq, run_started)

    # ----------------------------------------------------------------- receiving

    async def _read(self, ws: ClientConnection) -> None:
        reason = "closed by the server"
        try:
            async for data in ws:
                if isinstance(data, str):
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(data)
                grids = self.page.grids_drawn
                finished = self.page.receive(msg)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    self.run_started = time.perf_counter()
                if self.page.grids_drawn != grids and self.on_grid is not None:
                    self.on_grid(time.perf_counter(), self.run_started)
                if kind in ("auto_rerun", "stop_auto_rerun"):
                    self._sync_timers()
                if finished is not None:
                    self._finished(finished)
        except Exception as exc:  # the connection dropped, or a message we could not follow
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            self.closed_reason = reason
            if self._waiter is not None and not self._waiter[2].done():
                self._waiter[2].set_exception(ActionFailed(f"connection lost: {reason}"))

    def _finished(self, finished: Finished) -> None:
        if finished.final:
            self.runs += 1
        if self._waiter is None:
            return
        sent_seq, shown, future = self._waiter
        if not future.done() and finished.started_seq > sent_seq and shown(self.page, sent_seq):
            future.set_result((time.perf_counter(), self.run_started, finished))

    # ----------------------------------------------------------------- timers

    def _sync_timers(self) -> None:
        """One timer per fragment with run_every, as the browser keeps them: an unchanged
        interval keeps its timer (and its phase); stop_auto_rerun ends it."""
        wanted = self.page.auto_reruns
        for fragment_id, (interval, task) in list(self._timers.items()):
            if wanted.get(fragment_id) != interval:
                task.cancel()
                del self._timers[fragment_id]
        for fragment_id, interval in wanted.items():
            if fragment_id not in self._timers and interval > 0:
                task = asyncio.create_task(self._tick(fragment_id, interval), name="tab-timer")
                self._timers[fragment_id] = (interval, task)

    async def _tick(self, fragment_id: str, interval: float) -> None:
        with contextlib.suppress(Exception):  # a closed connection ends the timer
            while self._ws is not None and not self.closed_reason:
                await asyncio.sleep(interval)
                if self._ws is None or self.closed_reason:
                    return
                msg = self.page.rerun(fragment_id=fragment_id, auto=True)
                await self._ws.send(msg.SerializeToString())

    # ----------------------------------------------------------------- closing

    async def close(self) -> None:
        """Close the WebSocket (a navigation away or a closed tab) and stop the timers."""
        for _interval, task in self._timers.values():
            task.cancel()
        self._timers.clear()
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
