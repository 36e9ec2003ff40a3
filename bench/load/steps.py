"""One load run: the app server on a seeded desk (bench/harness: the snapshot, the cached
SQLite file or a PostgreSQL schema, the server as bench/run.py starts it; or several behind a
proxy, servers.py), one agent account per session, then in order:

1. **none**: no session open for `idle_seconds` (the server's CPU with nobody);
2. **single**: one protocol agent acting alone (short think time), then one browser agent
   alone: the single-session reference;
3. for each step N: sessions are added (signed in, Tickets page open) at `ramp_rate` per
   second up to N (of which `browsers` are Chromium pages); if N is in `idle_at`, all sit idle
   for `idle_seconds`; then all act for `step_seconds` with the think time; then they stop
   acting (in-flight actions end) and the next step adds sessions.

Action times count when the action started inside its phase's window; CPU is the window's."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.harness.common import CHROMIUM, CHROMIUM_ARGS, SNAPSHOT, log
from bench.harness.databases import snapshot_env
from bench.load.agents import (
    Agent,
    BrowserAgent,
    Control,
    ProtocolAgent,
    Sample,
    Think,
    grid_codes,
)
from bench.load.meter import Meter
from bench.load.servers import Target

EMAIL = "load.agent.{}@example.com"
WRITES = ("status", "reply")
"""Actions that change the desk: every other open page should show them."""
APPLICATION_NAME = "ticketdesk-load"
"""The application_name of the app server's PostgreSQL connections, to find its backends."""

MAKE_ACCOUNTS = """
import sys
from datetime import UTC, datetime
from ticketdesk.services import accounts
from ticketdesk.store import accounts as account_store
from ticketdesk.store.db import make_engine

url, count, template = sys.argv[1], int(sys.argv[2]), sys.argv[3]
password = sys.stdin.readline().rstrip("\\n")
engine = make_engine(url)
made = [
    accounts.create_account(
        engine, None, template.format(i), f"Load Agent {i}", "agent", None, datetime.now(UTC)
    )
    for i in range(count)
]
# One argon2 hash for all (they share the run's password): hundreds of hashes took minutes.
hashed = accounts.hash_password(password)
with engine.begin() as conn:
    for account in made:
        account_store.set_password_hash(conn, account.id, hashed)
engine.dispose()
"""


@dataclass(frozen=True)
class Settings:
    """What bench/load_run.py was asked to do (see its --help)."""

    backend: str
    tickets: int
    steps: list[int]
    step_seconds: float
    idle_seconds: float
    idle_at: list[int]
    single_seconds: float
    think: Think
    single_think: Think
    browser_think: Think
    browsers: int
    ramp_rate: float
    timeout_s: float
    seed: int
    postgres_url: str
    keep_going: bool
    nice: int = 0
    servers: int = 1  # app servers (behind a proxy when more than one)
    argv: list[str] = field(default_factory=list)


@dataclass
class Phase:
    """A window of the run: its name, sessions open, start and end (perf_counter), and what
    the meter and the agents saw in it."""

    name: str
    sessions: int
    browsers: int
    start: float
    end: float = 0.0
    meter: dict[str, float] = field(default_factory=dict)
    runs: int = 0  # script runs the protocol tabs saw end (timers' included)
    lag_p95_ms: float = 0.0
    ramp_seconds: float = 0.0
    ramp_added: int = 0  # sessions the ramp tried to add
    ramp_failures: int = 0  # of which could not start


@dataclass
class Result:
    settings: Settings
    phases: list[Phase] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    freshness: list[list[float | None]] = field(default_factory=list)
    """[when a change was saved, how long until another open list page drew its grid again
    (None: not before the end; -1: that page was used meanwhile)], per change and page."""
    info: dict[str, str] = field(default_factory=dict)
    stopped: str = ""
    split: dict[str, dict[str, int]] = field(default_factory=dict)
    """Several servers: per phase, its sessions per server (the server the proxy's sticky
    cookie of each agent names, read at the end of the window)."""
    routing: dict[str, Any] = field(default_factory=dict)
    """Several servers: what the proxy's log says of the run (servers.routing)."""

    def to_json(self) -> dict[str, Any]:
        several = self.settings.servers > 1
        extra = {"split": self.split, "routing": self.routing} if several else {}
        return {
            "settings": asdict(self.settings),
            "info": self.info,
            "stopped": self.stopped,
            "phases": [asdict(p) for p in self.phases],
            "samples": [asdict(s) for s in self.samples],
            "freshness": self.freshness,
            **extra,
        }


def make_accounts(db_url: str, count: int, password: str) -> None:
    """`count` agent accounts (load.agent.<i>@example.com), made by the snapshot's code."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", MAKE_ACCOUNTS, db_url, str(count), EMAIL],
        cwd=SNAPSHOT,
        env=snapshot_env(),
        input=password + "\n",
        text=True,
        check=True,
    )
    log(f"made {count} agent accounts in {time.monotonic() - started:.0f} s")


class Run:
    """The agents and the meter of one run against a started server (or servers)."""

    def __init__(self, settings: Settings, target: Target, db_url: str, password: str):
        self.settings = settings
        self.target = target
        self.password = password
        self.result = Result(settings)
        self.control = Control()
        self.agents: list[Agent] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.next_account = 0
        self.lags: list[tuple[float, float]] = []
        pg = settings.backend == "postgresql"
        self.meter = Meter(
            target.server_pids,
            db_url=libpq_url(settings.postgres_url) if pg else None,
            application_name=APPLICATION_NAME,
            proxy_pid=target.proxy_pid,
        )
        self.browser: Any = None

    # ----------------------------------------------------------------- agents

    def _agent(self, client: str, think: Think) -> Agent:
        index = self.next_account
        self.next_account += 1
        args = (
            f"{client[0]}{index}",
            EMAIL.format(index),
            self.password,
            self.target.url,
            self.settings.seed * 100_003 + index,
            think,
            self.settings.timeout_s,
            self.settings.tickets,
            self._record,
        )
        if client == "browser":
            return BrowserAgent(*args, index=index, browser=self.browser)
        return ProtocolAgent(*args, index=index)

    def _record(self, sample: Sample) -> None:
        self.result.samples.append(sample)
        if sample.kind in WRITES and sample.outcome == "ok" and sample.client == "protocol":
            self.watch(sample)

    def watch(self, change: Sample) -> None:
        """Follow a saved change to every other protocol page open on the list, idle, whose
        grid shows the changed ticket: when does each draw its grid again from a run begun
        after the change was saved? Saved: when the run that saved it began at the saver's
        tab (its callbacks, which write, run first thing; its end came later, and a page may
        have read the change before it). A page showing other tickets (another page of the
        list, a search) has nothing to show of the change and is not woken for it."""
        saved = change.run_started
        assert saved is not None
        for agent in self.agents:
            if agent.name == change.agent or not isinstance(agent, ProtocolAgent):
                continue
            shows = change.ticket is not None and change.ticket in grid_codes(agent.tab.page)
            if agent.where == "list" and not agent.busy and shows:
                entry: list[float | None] = [saved, None]
                self.result.freshness.append(entry)
                agent.watching.append(entry)

    @staticmethod
    def _grid_drawn(agent: Agent, now: float, run_started: float) -> None:
        for entry in list(agent.watching):
            saved = entry[0]
            assert saved is not None
            if run_started > saved:
                entry[1] = now - saved
                agent.watching.remove(entry)

    async def _add(self, agent: Agent) -> bool:
        try:
            await asyncio.wait_for(agent.start(), self.settings.timeout_s)
        except Exception as exc:
            log(f"  {agent.name} could not start: {type(exc).__name__}: {exc}")
            await agent.close()
            return False
        if isinstance(agent, ProtocolAgent):
            agent.tab.on_grid = functools.partial(self._grid_drawn, agent)
        self.agents.append(agent)
        self.tasks.append(asyncio.create_task(agent.run(self.control), name=agent.name))
        return True

    async def ramp(self, phase: Phase, protocol: int, browsers: int) -> None:
        """Add agents up to `protocol` + `browsers` sessions, `ramp_rate` a second."""
        started = time.perf_counter()
        have_b = sum(1 for a in self.agents if a.client == "browser")
        have_p = len(self.agents) - have_b
        new = [
            self._agent("browser", self.settings.browser_think) for _ in range(browsers - have_b)
        ]
        new += [self._agent("protocol", self.settings.think) for _ in range(protocol - have_p)]
        starts = []
        for agent in new:
            starts.append(asyncio.create_task(self._add(agent)))
            await asyncio.sleep(1 / self.settings.ramp_rate)
        done = await asyncio.gather(*starts)
        phase.ramp_seconds = time.perf_counter() - started
        phase.ramp_added = len(new)
        phase.ramp_failures = sum(1 for ok in done if not ok)

    async def stop_acting(self) -> None:
        self.control.set(False)
        deadline = time.perf_counter() + self.settings.timeout_s
        while any(a.busy for a in self.agents) and time.perf_counter() < deadline:
            await asyncio.sleep(0.2)

    async def close_agents(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(BaseException):
                await task
        await asyncio.gather(*(a.close() for a in self.agents), return_exceptions=True)
        self.agents, self.tasks = [], []

    # ----------------------------------------------------------------- windows

    def _runs(self) -> int:
        return sum(a.tab.runs for a in self.agents if isinstance(a, ProtocolAgent))

    async def window(self, phase: Phase, seconds: float, acting: bool) -> None:
        """Measure `phase` for `seconds`, the agents acting or not."""
        runs = self._runs()
        phase.start = time.perf_counter()
        self.control.set(acting)
        await asyncio.sleep(seconds)
        phase.end = time.perf_counter()
        if acting:
            await self.stop_acting()
        phase.runs = self._runs() - runs
        await asyncio.sleep(1.1)  # a meter reading after the end
        phase.meter = self.meter.window(phase.start, phase.end)
        lags = sorted(lag for at, lag in self.lags if phase.start <= at <= phase.end)
        phase.lag_p95_ms = 1000 * lags[int(0.95 * (len(lags) - 1))] if lags else 0.0
        self.result.phases.append(phase)
        log(f"  {phase.name}: {describe(phase, self.result.samples)}")
        if self.target.names and self.agents:
            self.result.split[phase.name] = split = await self.split()
            log(f"    sessions per server: {', '.join(f'{k} {v}' for k, v in split.items())}")

    async def split(self) -> dict[str, int]:
        """The open sessions per server, by the server each agent's sticky cookie names
        ("none": an agent without the cookie)."""
        named = Counter([await agent.sticky() or "none" for agent in self.agents])
        extra = sorted(set(named) - set(self.target.names))
        return {name: named[name] for name in (*self.target.names, *extra)}

    async def _watch_lag(self) -> None:
        """How late this process's event loop wakes up (a busy generator skews its times)."""
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.1)
            after = time.perf_counter()
            self.lags.append((after, max(0.0, after - before - 0.1)))

    # ----------------------------------------------------------------- the run

    async def run(self) -> Result:
        s = self.settings
        meter = asyncio.create_task(self.meter.run())
        lag = asyncio.create_task(self._watch_lag())
        playwright = None
        try:
            if s.browsers:
                from playwright.async_api import async_playwright

                playwright = await async_playwright().start()
                self.browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS
                )
                self.result.info["Chromium"] = self.browser.version
            await self._warm_up()
            await self.window(Phase("none", 0, 0, 0.0), s.idle_seconds, acting=False)
            await self._single("protocol")
            if s.browsers:
                await self._single("browser")
            for n in s.steps:
                b = min(s.browsers, n)
                phase = Phase(f"ramp {n}", n, b, 0.0)
                log(f"step {n}: adding sessions…")
                await self.ramp(phase, n - b, b)
                if n in s.idle_at:
                    await asyncio.sleep(5)  # the new pages' first runs settle
                    await self.window(
                        Phase(f"idle {n}", len(self.agents), b, 0.0), s.idle_seconds, acting=False
                    )
                step = Phase(f"step {n}", len(self.agents), b, 0.0)
                step.ramp_seconds, step.ramp_failures = phase.ramp_seconds, phase.ramp_failures
                step.ramp_added = phase.ramp_added
                await self.window(step, s.step_seconds, acting=True)
                inside = [x for x in self.result.samples if step.start <= x.at <= step.end]
                failed = sum(1 for x in inside if x.outcome != "ok")
                if s.keep_going:
                    continue
                if inside and failed > len(inside) / 2:
                    self.result.stopped = (
                        f"Stopped after {n} sessions: {failed} of {len(inside)} actions failed"
                    )
                elif phase.ramp_failures > phase.ramp_added / 2:
                    self.result.stopped = (
                        f"Stopped at {n} sessions: {phase.ramp_failures} of the sessions added "
                        "could not sign in and open the Tickets page"
                    )
                if self.result.stopped:
                    log(self.result.stopped)
                    break
        finally:
            await self.close_agents()
            for task in (meter, lag):
                task.cancel()
            self.meter.close()
            if self.browser is not None:
                with contextlib.suppress(Exception):
                    await self.browser.close()
            if playwright is not None:
                with contextlib.suppress(Exception):
                    await playwright.stop()
        return self.result

    async def _warm_up(self) -> None:
        """One unmeasured page load of the list and of a ticket: the server's first runs
        import and compile what every later run uses."""
        agent = self._agent("protocol", self.settings.single_think)
        await asyncio.wait_for(agent.start(), self.settings.timeout_s * 2)
        await agent.perform("open_ticket")
        await agent.close()
        self.result.samples.clear()

    async def _single(self, client: str) -> None:
        """One agent alone, acting with the short think time: the reference."""
        think = self.settings.single_think
        agent = self._agent(client, think)
        if not await self._add(agent):
            raise RuntimeError(f"the single {client} session could not start")
        phase = Phase(f"single {client}", 1, int(client == "browser"), 0.0)
        await self.window(phase, self.settings.single_seconds, acting=True)
        await self.close_agents()


def libpq_url(sqlalchemy_url: str) -> str:
    """postgresql+psycopg://... as libpq takes it (no driver, no options)."""
    return sqlalchemy_url.replace("+psycopg", "").split("?")[0]


def in_phase(samples: list[Sample], phase: Phase) -> list[Sample]:
    return [x for x in samples if phase.start <= x.at <= phase.end]


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of sorted `values` (linear interpolation, as statistics.quantiles)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def describe(phase: Phase, samples: list[Sample]) -> str:
    inside = in_phase(samples, phase)
    ok = sorted(x.seconds for x in inside if x.seconds is not None)
    cpu = phase.meter.get("server_cpu", float("nan"))
    rss = phase.meter.get("rss_mb", 0.0)
    text = f"{phase.sessions} sessions, server CPU {cpu:.1f} %, RSS {rss:.0f} MB"
    if inside:
        text += f", {len(inside)} actions ({len(inside) - len(ok)} failed)"
    if ok:
        text += f", p50 {quantile(ok, 0.5):.3f} s, p95 {quantile(ok, 0.95):.3f} s"
    return text


def password() -> str:
    return secrets.token_urlsafe(18)
