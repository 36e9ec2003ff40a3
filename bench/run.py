"""Ticket desk benchmark: the real app, the original design and a trivial page, in Chromium.

    .venv/bin/python bench/run.py                      # 10k, 100k and 1M tickets, 5 repeats
    .venv/bin/python bench/run.py --sizes 2000 --repeats 2

For each N: seed a database (cached in bench/work/ for SQLite), start three Streamlit servers
(our ticket.py, bench/baseline_app.py, bench/trivial_app.py), measure the server memory
growth per extra open session on each fresh server, then time page loads and the submit,
edit and search round trips in headless Chromium, each repeat in a fresh browser context,
the three apps interleaved. Every time is taken inside the page: from navigation start, or
from the triggering click / key press, until what the action should show is drawn and the
app is idle (Streamlit's script state back to notRunning after a run that began after the
action, no stale elements, no status widget). Prints a Markdown table of medians with the
ratios to the trivial page (the floor) and to the original design, and writes it with the
machine's description to bench/results/latest.md, the raw samples to latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / "work"
RESULTS = BENCH / "results"
README = BENCH / "README.md"
SNAPSHOT = WORK / "snapshot"
SNAPSHOT_PARTS = ("ticket.py", "app_pages", "src", ".streamlit")
BIN = Path(sys.executable).parent
DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 1000}
POLL_MS = 25
SETTLE_S = 2.0
SEARCH_TERM = "printer"
README_START = "<!-- bench-results:start -->"
README_END = "<!-- bench-results:end -->"

APPS = ("ours", "baseline", "floor")
APP_TITLES = {"ours": "Ticket desk", "baseline": "Original design", "floor": "Trivial page"}
METRICS = ("load_grid", "load_charts", "submit", "edit", "search")
METRIC_TITLES = {
    "load_grid": "Page load until the grid is drawn (ours: Tickets page)",
    "load_charts": "Page load until both charts are drawn (ours: Dashboard page)",
    "submit": "Submit a ticket, until shown",
    "edit": "Edit a Status cell, until saved and redrawn",
    "search": "Search, until results shown",
    "memory": "Server memory per extra open session (MB)",
}
SHORT_TITLES = {
    "load_grid": "Page load (grid)",
    "load_charts": "Page load (charts)",
    "submit": "Submit",
    "edit": "Edit",
    "search": "Search",
}
TARGET_RATIO = 1.5
TARGET_MEMORY_MB = 5.0

# Installed in every page before its scripts run, all times on the page's own clock
# (performance.now(), 0 = navigation start):
# - socket: when the server's messages arrive (Streamlit's ForwardMsg protobufs, of which we
#   read the top-level fields): "start" for new_session (4, a script run begins), "finish"
#   with its status for script_finished (6; 0 = a full run finished, 3 = a fragment run,
#   2 = stopped early for a rerun);
# - requests: when the page asks for a rerun (BackMsg.rerun_script), for which fragment and
#   whether a timer asked (fragments with run_every) or the user;
# - runs: the app root's script state (running / notRunning) as the page renders it;
# - lastInput: the last trusted click or key press.
INIT_SCRIPT = """
(() => {
  if (window.__bench) return;
  // The page's last grid on screen: Streamlit 1.67 may keep a replaced grid mounted but
  // hidden (a "retained" element), e.g. after a search: a grid of other tickets or of another
  // row count is a new widget.
  const lastShownGrid = () => {
    const grids = [...document.querySelectorAll('[data-testid="stDataFrame"]')]
      .filter((grid) => grid.getClientRects().length > 0);
    return grids.length ? grids[grids.length - 1] : null;
  };
  const bench = (window.__bench = {
    lastShownGrid,
    runs: [], socket: [], requests: [], lastInput: null, marks: {},
  });
  // What the page's last grid on screen shows: a hash of the top of its canvas (the header
  // and the first rows, which the checks read), sampled every frame (under 1 ms), [time, hash]
  // on each change. Glide draws cells on the canvas at once but fills the accessible table that
  // the checks read (glide-cell-<col>-<row>) only after a 200 ms debounce, so a grid check
  // that passes is dated to when the canvas first showed what it shows then.
  bench.paints = [];
  const sample = () => {
    const grid = lastShownGrid();
    const canvas = grid ? grid.querySelector("canvas") : null;
    const context = canvas && canvas.width && canvas.height && canvas.getContext("2d");
    let hash = null;
    if (context) {
      const top = context.getImageData(0, 0, canvas.width, Math.min(canvas.height, 150));
      const pixels = new Uint32Array(top.data.buffer);
      hash = 2166136261;
      for (let i = 0; i < pixels.length; i++) hash = Math.imul(hash ^ pixels[i], 16777619);
    }
    const last = bench.paints[bench.paints.length - 1];
    if (!last || last[1] !== hash) bench.paints.push([performance.now(), hash]);
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
  const note = (e) => { if (e.isTrusted) bench.lastInput = e.timeStamp; };
  addEventListener("pointerdown", note, true);
  addEventListener("keydown", note, true);
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      bench.runs.push([performance.now(), m.target.getAttribute("data-test-script-state")]);
    }
  }).observe(document, {
    attributes: true, subtree: true, attributeFilter: ["data-test-script-state"],
  });
  // The top-level fields of a protobuf message: [field, wire type, value or [start, end]].
  const fields = (bytes) => {
    const found = [];
    let i = 0;
    const varint = () => {
      let value = 0, shift = 0, b;
      do { b = bytes[i++]; value += (b & 0x7f) * 2 ** shift; shift += 7; }
      while (b & 0x80 && i < bytes.length);
      return value;
    };
    while (i < bytes.length) {
      const key = varint(), field = Math.floor(key / 8), wire = key & 7;
      if (wire === 0) found.push([field, wire, varint()]);
      else if (wire === 2) { const n = varint(); found.push([field, wire, [i, i + n]]); i += n; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else break;
    }
    return found;
  };
  const received = (bytes, at) => {
    for (const [field, , value] of fields(bytes)) {
      if (field === 4) bench.socket.push([at, "start"]);
      if (field === 6) bench.socket.push([at, "finish", value]);
    }
  };
  // BackMsg.rerun_script (11) is a ClientState: fragment_id (5), is_auto_rerun (6).
  const sent = (bytes, at) => {
    for (const [field, wire, span] of fields(bytes)) {
      if (field !== 11 || wire !== 2) continue;
      const state = bytes.subarray(span[0], span[1]);
      let fragment = "", auto = false;
      for (const [f, w, v] of fields(state)) {
        if (f === 5 && w === 2) fragment = new TextDecoder().decode(state.subarray(v[0], v[1]));
        if (f === 6 && w === 0) auto = v === 1;
      }
      bench.requests.push([at, fragment, auto]);
    }
  };
  const bytesOf = (data) => data instanceof ArrayBuffer ? new Uint8Array(data)
    : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    : null;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        const bytes = bytesOf(e.data);
        if (bytes) received(bytes, performance.now());
      });
    }
    send(data) {
      const bytes = bytesOf(data);
      if (bytes) { try { sent(bytes, performance.now()); } catch (e) { /* not ours */ } }
      return super.send(data);
    }
  };
})();
"""

# Polled in the page. `since` is "navigation" (0) or "input" (the last click / key press).
# Done when the run that answers the first user rerun request after `since` has finished
# (its script_finished arrived and the page has rendered it: script state notRunning,
# nothing stale, no status widget) and the wanted conditions hold. Records the first moment
# each wanted condition held so, and returns those marks (ms since `since`) with the run's
# start and end; false until then.
DONE_PREDICATE = """
(spec) => {
  const b = window.__bench;
  if (!b) return false;
  const since = spec.since === "input" ? b.lastInput : 0;
  if (since === null) return false;
  const now = performance.now();
  if (document.querySelector('[data-testid="stException"]')) return { app_error: "exception" };
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute("data-test-connection-state") !== "CONNECTED") return false;
  if (app.getAttribute("data-test-script-state") !== "notRunning") return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stStatusWidget"]')) {
    return false;
  }
  // The run that answers the action: the first rerun request the page sent after it that
  // is not a timer's (is_auto_rerun), then the first run that starts after that request and
  // finishes, fully (0) or as a fragment (3); a run stopped early for a rerun (2) hands over
  // to the run after it.
  const request = b.requests.find(([t, , auto]) => t >= since && !auto);
  if (!request) return false;
  let start = null, finish = null;
  for (const entry of b.socket) {
    if (entry[0] < request[0]) continue;
    if (entry[1] === "start" && start === null) start = entry;
    else if (entry[1] === "finish" && start !== null) {
      if (entry[2] === 0 || entry[2] === 3) { finish = entry; break; }
      start = null;
    }
  }
  if (!finish) return false;
  let rendered = -1;
  for (const [t, s] of b.runs) if (t >= since && s === "running") rendered = t;
  if (rendered >= 0 && !b.runs.some(([t, s]) => t > rendered && s === "notRunning")) {
    return false;
  }
  if (spec.failOnAlert) {
    const alert = document.querySelector('[data-testid="stAlertContentError"]');
    if (alert) return { app_error: alert.textContent.slice(0, 200) };
  }

  const grid = b.lastShownGrid();
  const cell = (col, row) => {
    const el = grid && grid.querySelector(`[id="glide-cell-${col}-${row}"]`);
    return el ? el.textContent : null;
  };
  const main = document.querySelector('[data-testid="stMain"]');
  const text = main ? main.textContent : "";
  const drawn = (chart) => chart.querySelector(
    "svg.marks g[class*='mark-'] path, canvas.marks"
  ) !== null;
  const checks = {
    grid: () => !!grid && !!grid.querySelector('[data-testid="data-grid-canvas"]')
      && !!cell(0, 0),
    charts: () => {
      const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
      return charts.length >= 2 && [...charts].every(drawn);
    },
    text: () => spec.text.every((pattern) => new RegExp(pattern).test(text)),
    cell: () => spec.cell.every(([col, row, pattern]) =>
      new RegExp(pattern, "i").test(cell(col, row) || "")),
  };
  // A grid check is dated to when the canvas first showed what it shows now (see paints),
  // but not before the page rendered the run's end; the accessible table's own time is kept
  // as `<want>_table`.
  const idle = b.runs.filter(([, s]) => s === "notRunning").pop();
  const painted = b.paints.length ? b.paints[b.paints.length - 1][0] : now;
  const shown = { grid: true, cell: true };
  const key = `${spec.name}@${since}`;
  const marks = (b.marks[key] = b.marks[key] || {});
  let all = true;
  for (const want of spec.want) {
    if (marks[want] === undefined && checks[want]()) {
      marks[want] = now - since;
      if (shown[want]) {
        marks[`${want}_table`] = marks[want];
        marks[want] = Math.min(now, Math.max(painted, idle ? idle[0] : since)) - since;
      }
    }
    if (marks[want] === undefined) all = false;
  }
  if (!all) return false;
  return { ...marks, run_start: start[0] - since, run_end: finish[0] - since };
}
"""


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


class AppError(Exception):
    """The app showed an exception instead of its page."""


def is_timeout(exc: BaseException) -> bool:
    """Playwright's TimeoutError: an action did not finish within the per-action limit."""
    return type(exc).__name__ == "TimeoutError" and "playwright" in type(exc).__module__


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    script: str
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout: float) -> None:
        self.stop()
        self.port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(BIN / "streamlit"),
            "run",
            self.script,
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
        ]
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, ended as one below
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; see {self.log_path}")
            health = f"{self.url}_stcore/health"  # always http://127.0.0.1
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as r:  # noqa: S310
                if r.read().strip() == b"ok":
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server did not answer within {timeout:.0f} s")

    def rss_mb(self) -> float:
        """The server's resident set (VmRSS), in MB (10^6 bytes)."""
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        assert match, "no VmRSS"
        return int(match.group(1)) * 1024 / 1e6

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# --------------------------------------------------------------------------- databases


def take_snapshot() -> None:
    """Copy the app (ticket.py, app_pages/, src/, .streamlit/) to bench/work/snapshot and run
    it from there, so that edits made to the work tree during a long run cannot change or
    break the code being measured half-way."""
    if SNAPSHOT.exists():
        shutil.rmtree(SNAPSHOT)
    SNAPSHOT.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SNAPSHOT_PARTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, SNAPSHOT / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, SNAPSHOT / name)


def snapshot_env() -> dict[str, str]:
    """The environment in which `ticketdesk` and `streamlit` import the snapshot's package
    (PYTHONPATH comes before the editable install of the work tree)."""
    path = [str(SNAPSHOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}


@contextlib.contextmanager
def sqlite_database(count: int) -> Iterator[str]:
    """A copy of the cached seeded file, so that runs never see each other's writes."""
    WORK.mkdir(parents=True, exist_ok=True)
    seeded = WORK / f"sqlite-{count}.db"
    if not seeded.exists():
        partial = WORK / f"sqlite-{count}.db.partial"
        for leftover in WORK.glob(f"sqlite-{count}.db.partial*"):
            leftover.unlink()
        seed(f"sqlite:///{partial}", count)
        partial.rename(seeded)
    else:
        log(f"using the cached {seeded.relative_to(ROOT)}")
    copy = WORK / f"run-sqlite-{count}.db"
    for old in WORK.glob(f"run-sqlite-{count}.db*"):
        old.unlink()
    shutil.copyfile(seeded, copy)
    # Migrations added since the file was seeded are applied to the copy, as they would be to a
    # real desk's database; the cache itself stays as seeded (a migration still being written
    # can change without leaving the cache behind).
    try:
        log("applying migrations to the copy")
        subprocess.run(
            [str(BIN / "ticketdesk"), "--database-url", f"sqlite:///{copy}", "migrate"],
            cwd=SNAPSHOT,
            env=snapshot_env(),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        yield f"sqlite:///{copy}"
    finally:
        for old in WORK.glob(f"run-sqlite-{count}.db*"):
            old.unlink()


@contextlib.contextmanager
def postgres_database(count: int, base_url: str) -> Iterator[str]:
    """A dedicated schema, seeded for this run and dropped after it."""
    from sqlalchemy import create_engine, text

    schema = f"ticketdesk_bench_{count}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in base_url else "?"
    url = f"{base_url}{joiner}options=-csearch_path%3D{schema}"
    try:
        seed(url, count)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def seed(url: str, count: int) -> None:
    log(f"seeding {count:,} tickets (this is done once per N for SQLite)…")
    started = time.monotonic()
    subprocess.run(
        [
            str(BIN / "ticketdesk"),
            "--database-url",
            url,
            "seed-demo",
            "--count",
            str(count),
            "--seed",
            "1",
        ],
        cwd=SNAPSHOT,
        env=snapshot_env(),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log(f"seeded in {time.monotonic() - started:.0f} s")


# --------------------------------------------------------------------------- browser work


@dataclass
class AppUnderTest:
    name: str
    server: Server
    # Paths (relative to the server URL) and what each page load waits for.
    loads: list[tuple[str, list[str], dict[str, str]]]  # (path, wants, {want: metric})
    submit_done: Callable[[str, int], dict[str, Any]]
    search_done: dict[str, Any]


def done(page: Any, name: str, since: str, want: list[str], timeout_s: float, **extra: Any):
    spec = {"name": name, "since": since, "want": want, "text": [], "cell": [], **extra}
    handle = page.wait_for_function(
        DONE_PREDICATE, arg=spec, polling=POLL_MS, timeout=timeout_s * 1000
    )
    marks: dict[str, Any] = handle.json_value()
    if marks.get("app_error"):
        raise AppError(f"the app showed an error during {name}: {marks['app_error']}")
    return {k: v / 1000 for k, v in marks.items()}


BENCH_EMAIL = "bench.agent@example.com"
BENCH_PASSWORD = secrets.token_urlsafe(16)  # generated per run, never stored


def create_bench_account(url: str) -> None:
    """The agent the benchmark signs in as (our app needs a session; the others do not)."""
    subprocess.run(
        [
            str(BIN / "ticketdesk"),
            "--database-url",
            url,
            "create-admin",
            "--email",
            BENCH_EMAIL,
            "--name",
            "Bench Agent",
            "--password-stdin",
        ],
        cwd=SNAPSHOT,
        env=snapshot_env(),
        input=BENCH_PASSWORD + "\n",
        text=True,
        check=False,  # a reused database may have it already
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def sign_in(context: Any, base_url: str) -> None:
    """Through the real sign-in form's POST, before any measurement: the context keeps the
    session cookie."""
    base_url = base_url.rstrip("/")
    form = context.request.get(f"{base_url}/signin").text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf, "no sign-in form"
    answer = context.request.post(
        f"{base_url}/signin",
        form={"email": BENCH_EMAIL, "password": BENCH_PASSWORD, "csrf": csrf[1], "next": "/"},
        max_redirects=0,
    )
    assert answer.status == 303, f"sign-in refused: {answer.status}"


def new_page(browser: Any, app: AppUnderTest, timeout_s: float) -> tuple[Any, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(INIT_SCRIPT)
    context.set_default_timeout(timeout_s * 1000)
    if app.name == "ours":
        sign_in(context, app.server.url)
    return context, context.new_page()


def load(page: Any, url: str, want: list[str], timeout_s: float) -> dict[str, float]:
    page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    return done(page, "load", "navigation", want, timeout_s, failOnAlert=True)


Measured = tuple[float | str, dict[str, float]]


def run_span(marks: dict[str, float]) -> list[float] | None:
    """When the app's script run began and ended, in seconds from the action's start (as the
    browser saw it: the end includes sending the run's output)."""
    if "run_start" not in marks:
        return None
    return [round(marks["run_start"], 3), round(marks["run_end"], 3)]


def ticket_count(page: Any) -> int:
    text = page.locator('[data-testid="stMain"]').text_content() or ""
    match = re.search(r"Number of tickets:\s*([\d,]+)", text)
    if not match:
        raise RuntimeError("no 'Number of tickets' on the page")
    return int(match.group(1).replace(",", ""))


def count_pattern(count: int) -> str:
    """A regex for 'Number of tickets: N' written with or without thousands separators."""
    digits = str(count)
    groups = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return r"Number of tickets:\s*" + ",?".join(groups) + r"(?![\d,])"


def measure_submit(page: Any, app: AppUnderTest, timeout_s: float) -> Measured:
    issue = f"Bench ticket {uuid.uuid4().hex[:10]}"
    before = ticket_count(page) if app.name == "baseline" else 0
    page.get_by_role("textbox", name="Describe the issue").fill(issue)
    page.get_by_role("button", name="Submit").click()
    marks = done(page, "submit", "input", ["text"], timeout_s, **app.submit_done(issue, before))
    return marks["text"], marks


def measure_edit(page: Any, app: AppUnderTest, timeout_s: float) -> Measured:
    """Row 0's Status (column 2) to another value, through the grid's dropdown editor."""
    grid = page.locator('[data-testid="stDataFrame"]').filter(visible=True).last
    current = grid.locator('[id="glide-cell-2-0"]').text_content()
    target = "In Progress" if current == "Closed" else "Closed"
    first = grid.locator('[id="glide-cell-0-0"]')
    for _ in range(5):  # the first click after a rerun may only move the focus
        grid.click(position={"x": 20, "y": 52})  # row 0, first column (the header is 35 px)
        with contextlib.suppress(Exception):
            first.and_(page.locator('[aria-selected="true"]')).wait_for(
                state="attached", timeout=1000
            )
            break
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    option = page.locator("#portal [role=option]", has_text=target)
    option.click()
    marks = done(page, "edit", "input", ["cell"], timeout_s, cell=[[2, 0, f"^{target}$"]])
    return marks["cell"], marks


def measure_search(page: Any, app: AppUnderTest, timeout_s: float) -> Measured:
    box = page.get_by_role("textbox", name="Search", exact=True)
    if box.count() == 0:
        return "n/a", {}
    box.first.fill(SEARCH_TERM)
    box.first.press("Enter")
    marks = done(page, "search", "input", ["text", "cell"], timeout_s, **app.search_done)
    return max(marks["text"], marks["cell"]), marks


def run_repeat(
    browser: Any, app: AppUnderTest, timeout_s: float, pause_s: float, samples: dict
) -> None:
    """One fresh context per page load; the actions follow the first page's load, each
    `pause_s` after the page was done with the one before (a person's pace, rather than the
    instant the last check passed)."""
    for index, (path, want, metric_of) in enumerate(app.loads):
        context, page = new_page(browser, app, timeout_s)
        try:
            try:
                marks = load(page, app.server.url + path, want, timeout_s)
            except Exception as exc:
                if not (is_timeout(exc) or isinstance(exc, AppError)):
                    raise
                outcome = None if is_timeout(exc) else "error"
                log(f"  {app.name} load of /{path}: {outcome or 'timeout'}")
                if outcome:
                    samples["errors"].append(f"load /{path}: {exc}")
                for metric in metric_of.values():
                    samples[metric].append(outcome)
                if index == 0:
                    for metric in ("submit", "edit", "search"):
                        samples[metric].append(outcome or "skipped")
                continue
            for w, metric in metric_of.items():
                samples[metric].append(marks[w])
                samples["script_runs"][metric].append(run_span(marks))
                samples["table_filled"][metric].append(marks.get(f"{w}_table"))
            if index != 0:
                continue
            steps: list[tuple[str, Callable[[Any, AppUnderTest, float], Measured]]] = [
                ("submit", measure_submit),
                ("edit", measure_edit),
                ("search", measure_search),
            ]
            failed = False
            for metric, step in steps:
                if failed:
                    samples[metric].append("skipped")
                    continue
                try:
                    time.sleep(pause_s)
                    seconds, marks = step(page, app, timeout_s)
                    samples[metric].append(seconds)
                    samples["script_runs"][metric].append(run_span(marks))
                    samples["table_filled"][metric].append(marks.get("cell_table"))
                except Exception as exc:
                    failed = True
                    if is_timeout(exc):
                        log(f"  {app.name} {metric}: timeout")
                        samples[metric].append(None)
                        continue
                    log(f"  {app.name} {metric} failed: {str(exc).splitlines()[0][:200]}")
                    samples["errors"].append(f"{metric}: {str(exc).splitlines()[0][:300]}")
                    samples[metric].append("error")
        finally:
            with contextlib.suppress(Exception):
                context.close()


def measure_memory(browser: Any, app: AppUnderTest, extra: int, timeout_s: float) -> dict:
    """RSS after one open session and after `extra` more (opened one after the other)."""
    contexts = []
    path, want, _ = app.loads[0]
    result: dict[str, Any] = {"rss_start_mb": app.server.rss_mb()}
    try:
        for i in range(extra + 1):
            context, page = new_page(browser, app, timeout_s)
            contexts.append(context)
            load(page, app.server.url + path, want, timeout_s)
            if i == 0:
                time.sleep(SETTLE_S)
                result["rss_1_mb"] = app.server.rss_mb()
        time.sleep(SETTLE_S)
        result["rss_k_mb"] = app.server.rss_mb()
        result["extra_sessions"] = extra
        result["mb_per_session"] = (result["rss_k_mb"] - result["rss_1_mb"]) / extra
    except Exception as exc:
        if is_timeout(exc):
            result["error"] = f"a session did not load within {timeout_s:.0f} s"
        elif isinstance(exc, AppError):
            result["error"] = str(exc)
        else:
            raise
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
    return result


def make_apps(servers: dict[str, Server]) -> list[AppUnderTest]:
    def ours_submit(issue: str, before: int) -> dict[str, Any]:
        return {"text": [r"Ticket TICKET-\d+ submitted"]}

    def baseline_submit(issue: str, before: int) -> dict[str, Any]:
        return {"text": ["Ticket submitted!", count_pattern(before + 1)]}

    def floor_submit(issue: str, before: int) -> dict[str, Any]:
        return {"text": [f"Submitted: {issue}"]}

    search_in_grid = {"text": [], "cell": [[1, 0, SEARCH_TERM]]}
    everything = ["grid", "charts"]
    both = {"grid": "load_grid", "charts": "load_charts"}
    return [
        AppUnderTest(
            "floor",
            servers["floor"],
            [("", everything, both)],
            floor_submit,
            {"text": [f"Searching for: {SEARCH_TERM}"], "cell": []},
        ),
        AppUnderTest(
            "baseline",
            servers["baseline"],
            [("", everything, both)],
            baseline_submit,
            search_in_grid,
        ),
        AppUnderTest(
            "ours",
            servers["ours"],
            [
                ("", ["grid"], {"grid": "load_grid"}),
                ("dashboard", ["charts"], {"charts": "load_charts"}),
            ],
            ours_submit,
            search_in_grid,
        ),
    ]


# --------------------------------------------------------------------------- one size


def bench_size(
    pw: Any, count: int, args: argparse.Namespace, db_url: str, results: dict[str, Any]
) -> None:
    """Measure the three apps at `count` tickets, filling `results` as it goes."""
    logs = WORK / "logs"
    servers = {
        "ours": Server(
            "ours",
            "ticket.py",
            {
                "TICKETDESK_DATABASE_URL": db_url,
                "TICKETDESK_DEMO_TICKETS": "0",
                "PYTHONPATH": snapshot_env()["PYTHONPATH"],
            },
            logs / f"{count}-ours.log",
            cwd=SNAPSHOT,
        ),
        "baseline": Server(
            "baseline",
            "bench/baseline_app.py",
            {"BENCH_TICKETS": str(count)},
            logs / f"{count}-baseline.log",
        ),
        "floor": Server("floor", "bench/trivial_app.py", {}, logs / f"{count}-floor.log"),
    }
    apps = [a for a in make_apps(servers) if a.name in args.apps]
    if "ours" in args.apps:
        create_bench_account(db_url)
    for a in apps:
        results[a.name] = {m: [] for m in METRICS} | {
            "script_runs": {m: [] for m in METRICS},
            # When the grid's accessible table showed what the canvas had shown (see paints).
            "table_filled": {m: [] for m in METRICS},
            "errors": [],
            "memory": {},
        }
    broken: dict[str, str] = {}
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        for app in apps:
            log(f"N={count:,}: starting {app.name}, measuring memory ({args.sessions} sessions)")
            app.server.start(timeout=60)
            memory = measure_memory(browser, app, args.sessions, args.timeout)
            results[app.name]["memory"] = memory
            log(f"  {app.name}: {fmt_memory(memory.get('mb_per_session'))} MB per session")
            for _ in range(args.warmup):  # the rest of the pages, once, unmeasured
                for path, want, _metrics in app.loads:
                    context, page = new_page(browser, app, args.timeout)
                    try:
                        load(page, app.server.url + path, want, args.timeout)
                    except Exception as exc:
                        if not (is_timeout(exc) or isinstance(exc, AppError)):
                            raise
                        # An app that cannot show its page is not timed over and over.
                        broken[app.name] = f"warm-up load of /{path} failed: {exc}"
                        log(f"  {app.name}: {broken[app.name]}; not measured at this N")
                        results[app.name]["errors"].append(broken[app.name])
                    finally:
                        context.close()
        for repeat in range(args.repeats):
            for app in apps:
                if app.name in broken:
                    for metric in METRICS:
                        results[app.name][metric].append("error")
                    continue
                log(f"N={count:,}: repeat {repeat + 1}/{args.repeats}, {app.name}")
                run_repeat(browser, app, args.timeout, args.pause, results[app.name])
                latest = {m: results[app.name][m][-1:] for m in METRICS}
                log(f"  {app.name}: {latest}")
    finally:
        with contextlib.suppress(Exception):
            browser.close()
        for server in servers.values():
            server.stop()


# --------------------------------------------------------------------------- report


def median(samples: list[Any]) -> float | str | None:
    """Median seconds; a timeout counts as infinitely slow; 'n/a' if never applicable."""
    if samples and all(s == "n/a" for s in samples):
        return "n/a"
    if samples and all(s == "error" for s in samples):
        return "error"
    values = [math.inf if s is None else s for s in samples if isinstance(s, float | int | None)]
    if not values:
        return None
    return statistics.median(values)


def fmt_seconds(value: float | str | None, timeout: float) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if math.isinf(value):
        return f">{timeout:.0f} s"
    return f"{value:.2f} s"


def fmt_memory(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def ratio(a: float | str | None, b: float | str | None, floor: float = 0.0) -> float | None:
    if not isinstance(a, float | int) or not isinstance(b, float | int):
        return None
    if math.isinf(a) or math.isinf(b) or b <= floor:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def table(all_results: dict[int, dict[str, Any]], timeout: float) -> str:
    head = (
        "| N | Measurement | Ticket desk | Original design | Trivial page | "
        "Ours ÷ trivial | Ours ÷ original | Original ÷ trivial | Target |"
    )
    lines = [head, "|" + "---|" * 9]
    for count, results in all_results.items():
        get = results.get
        for metric in (*METRICS, "memory"):
            if metric == "memory":
                vals = {a: (get(a) or {}).get("memory", {}).get("mb_per_session") for a in APPS}
                cells = [fmt_memory(vals[a]) for a in APPS]
                target = vals["ours"] is not None and vals["ours"] < TARGET_MEMORY_MB
                target_text = f"< {TARGET_MEMORY_MB:.0f} MB: " + ("met" if target else "missed")
                r_floor = ratio(vals["ours"], vals["floor"], floor=1.0)
                r_base = ratio(vals["ours"], vals["baseline"], floor=1.0)
                r_bf = ratio(vals["baseline"], vals["floor"], floor=1.0)
            else:
                vals = {a: median((get(a) or {}).get(metric, [])) for a in APPS}
                cells = [fmt_seconds(vals[a], timeout) for a in APPS]
                r_floor = ratio(vals["ours"], vals["floor"])
                r_base = ratio(vals["ours"], vals["baseline"])
                r_bf = ratio(vals["baseline"], vals["floor"])
                if vals["ours"] == "n/a":
                    target_text = "–"
                elif r_floor is None:
                    target_text = "missed" if vals["ours"] is not None else "–"
                else:
                    met = r_floor <= TARGET_RATIO
                    target_text = f"≤ {TARGET_RATIO}× trivial: " + ("met" if met else "missed")
            lines.append(
                f"| {count:,} | {METRIC_TITLES[metric]} | "
                + " | ".join(cells)
                + f" | {fmt_ratio(r_floor)} | {fmt_ratio(r_base)} | {fmt_ratio(r_bf)}"
                + f" | {target_text} |"
            )
    return "\n".join(lines)


def script_table(all_results: dict[int, dict[str, Any]]) -> str:
    """Medians of how long the action's script run took, from its new_session message to its
    script_finished message as they reached the page."""
    lines = [
        "| N | Measurement | Ticket desk | Original design | Trivial page |",
        "|---|---|---|---|---|",
    ]
    for count, results in all_results.items():
        for metric in METRICS:
            cells = []
            for a in APPS:
                spans = (results.get(a) or {}).get("script_runs", {}).get(metric, [])
                runs = [end - start for start, end in (x for x in spans if x)]
                cells.append(f"{statistics.median(runs):.2f} s" if runs else "–")
            title = SHORT_TITLES[metric]
            lines.append(f"| {count:,} | {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def app_version() -> str:
    """The commit measured, and whether the app's files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "ticket.py", "app_pages", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    files = [line[3:] for line in changed if line.strip()]
    return head + (f" + uncommitted changes in {', '.join(files)}" if files else "")


def machine(args: argparse.Namespace, browser_version: str) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, AttributeError):
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{kib / 1024 / 1024:.1f} GiB"
    import streamlit

    info = {
        "Ticket desk": app_version(),
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Streamlit": streamlit.__version__,
        "Chromium": browser_version,
        "Database": args.backend,
        "Load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if args.backend == "sqlite":
        info["SQLite"] = sqlite3.sqlite_version
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(args.postgres_url)
        with engine.connect() as conn:
            info["PostgreSQL"] = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
    return info


def report(
    all_results: dict[int, dict[str, Any]], info: dict[str, str], args: argparse.Namespace
) -> str:
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine_lines = "\n".join(f"- {k}: {v}" for k, v in info.items())
    return (
        f"Benchmark of {date}: `{' '.join(['bench/run.py', *sys.argv[1:]])}`; medians of "
        f"{args.repeats} repeats, each in a fresh browser context; {args.sessions} extra "
        f"sessions for memory; {args.timeout:.0f} s limit per action; each action "
        f"{args.pause:g} s after the page was done with the one before.\n\n"
        f"{table(all_results, args.timeout)}\n\n"
        "Times run inside the page, from navigation start (loads) or from the click / key "
        "press that triggers the action, until its result is drawn and the app is idle. "
        "The targets apply to our app at 1,000,000 tickets on SQLite.\n\n"
        "Of which the app's script run, as the browser saw it (from the first message of the "
        "run to its script_finished message: the server's work and sending its output; the "
        "rest of each time above is the browser's, or waiting for the run to start):\n\n"
        f"{script_table(all_results)}\n\n"
        f"Machine:\n\n{machine_lines}\n"
    )


def update_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        log(f"{README.relative_to(ROOT)} has no {README_START} block; not updated")
        return
    README.write_text(readme[: start + len(README_START)] + "\n" + text + "\n" + readme[end:])
    log(f"updated {README.relative_to(ROOT)}")


# --------------------------------------------------------------------------- main


def write_results(
    all_results: dict[int, dict[str, Any]], info: dict[str, str], args: argparse.Namespace
) -> str:
    text = report(all_results, info, args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    raw = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "machine": info,
        "units": {"times": "seconds (null = timeout)", "memory": "MB (10^6 bytes) of VmRSS"},
        "results": {str(n): r for n, r in all_results.items()},
    }
    (RESULTS / "latest.json").write_text(json.dumps(raw, indent=1) + "\n")
    return text


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help=f"default {DEFAULT_SIZES}")
    parser.add_argument("--repeats", type=int, default=5, help="default 5")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TICKETDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="default $TICKETDESK_BENCH_POSTGRES_URL or " + DEFAULT_POSTGRES_URL,
    )
    parser.add_argument(
        "--sessions", type=int, default=5, help="extra open sessions for memory (default 5)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per action")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured loads per page")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="seconds between a page being done and the next action (default 0.5)",
    )
    parser.add_argument(
        "--apps", default=",".join(APPS), help="subset of ours,baseline,floor (default all)"
    )
    parser.add_argument(
        "--update-readme",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write the table into bench/README.md (default: only for the default sizes)",
    )
    args = parser.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    if unknown := set(args.apps) - set(APPS):
        parser.error(f"unknown apps: {', '.join(sorted(unknown))}")
    if args.update_readme is None:
        args.update_readme = args.sizes == DEFAULT_SIZES
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Turn SIGTERM into an exception too, so that every `finally` below ends our servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from playwright.sync_api import sync_playwright

    all_results: dict[int, dict[str, Any]] = {}
    started = time.monotonic()
    failures = 0
    take_snapshot()
    info: dict[str, str] = {}
    text = ""
    with contextlib.ExitStack() as finish:
        # Whatever happens (even Ctrl-C), what was measured so far is written.
        finish.callback(lambda: all_results and write_results(all_results, info, args))
        pw = finish.enter_context(sync_playwright())
        probe = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        browser_version = probe.version
        probe.close()
        info.update(machine(args, browser_version))
        for count in args.size_list:
            if args.backend == "sqlite":
                database = sqlite_database(count)
            else:
                database = postgres_database(count, args.postgres_url)
            all_results[count] = {}
            try:
                with database as db_url:
                    bench_size(pw, count, args, db_url, all_results[count])
            except Exception as exc:  # report what was measured; go on with the next N
                failures += 1
                log(f"N={count:,} failed: {exc!r}")
                all_results[count]["error"] = repr(exc)
            # Written after every N, so that a long run that is stopped keeps what it has.
            info["Wall time"] = f"{(time.monotonic() - started) / 60:.1f} min"
            text = write_results(all_results, info, args)
    print(text)
    log(f"wrote {(RESULTS / 'latest.md').relative_to(ROOT)} and latest.json")
    if args.update_readme and not failures:
        update_readme(text)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
