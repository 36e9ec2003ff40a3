"""What an idle open page costs the server, and how soon open pages show others' changes,
before and after a change of the live view, in one run.

    .venv/bin/python bench/idle_pages.py                       # SQLite, 10 pages, 10k tickets
    .venv/bin/python bench/idle_pages.py --backend postgresql --tickets 1000000

For each version of the app (`--before`, a git ref, default main; and the work tree), the
same way: start `streamlit run ticket.py` (as bench/harness/servers.py does) on the same
seeded database; read the server process's CPU time (/proc/<pid>/stat) over `--idle` seconds
with no page open; open `--pages` signed-in Tickets pages in headless Chromium (each its own
browser context and sign-in session) and two pages of one old ticket, let them settle, and
read it again over `--idle` seconds while nobody does anything. Then `--changes` writes
through the services, a few seconds apart, alternately a new ticket (the Tickets pages must
show the new count) and a change of the old ticket (its pages must show its new version):
how long from the write's commit until each page that shows it shows it (in-page clock,
polled every 25 ms). Writes a Markdown report to bench/results/idle-<backend>-<n>-<date>-
<commit>.md. An idle page's cost is (CPU with the pages - CPU without) / pages, in % of one
core; compare the two versions' figures of one run, not figures across runs."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/idle_pages.py` puts only bench/ on the path
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402

from bench.harness.common import BIN, CHROMIUM, CHROMIUM_ARGS, RESULTS, WORK, log  # noqa: E402
from bench.harness.databases import SNAPSHOT_PARTS  # noqa: E402
from bench.harness.report import git_state, size_label  # noqa: E402
from bench.harness.servers import FLAGS, START_TIMEOUT_S  # noqa: E402
from tests.support.server import StreamlitServer  # noqa: E402
from ticketdesk.domain.tickets import TicketChange  # noqa: E402
from ticketdesk.services import accounts as account_service  # noqa: E402
from ticketdesk.services import tickets as ticket_service  # noqa: E402
from ticketdesk.store.db import make_engine  # noqa: E402
from ticketdesk.web.engine import SESSION_COOKIE  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IDLE_WORK = WORK / "idle"
PASSWORD = "bench password of the idle pages"  # noqa: S105 (a throwaway bench account)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_S = 10.0
"""After the pages are loaded, before the reading with pages open starts."""
SEEN_TIMEOUT_S = 30.0
WATCH_JS = """() => {
  // Note the first moment (epoch ms) each ticket count and ticket version appears.
  window.__seen = window.__seen || {};
  const note = () => {
    const main = document.querySelector('[data-testid="stMain"]');
    const text = main ? main.textContent : "";
    const now = Date.now();
    const mark = (k) => { if (!(k in window.__seen)) window.__seen[k] = now; };
    const count = text.match(/Number of tickets:\\s*([\\d,]+)/);
    if (count) mark("count " + count[1].replace(/,/g, ""));
    const version = text.match(/· version (\\d+)/);
    if (version) mark("version " + version[1]);
  };
  note();
  if (!window.__watching) { window.__watching = setInterval(note, 25); }
}"""


@dataclass
class Figures:
    """One version's figures."""

    name: str
    code: str  # what was measured (ref and commit)
    cpu_empty: float = 0.0  # fraction of one core, no page open
    cpu_open: float = 0.0  # fraction of one core, the pages open and idle
    list_seen: list[float] = field(default_factory=list)  # seconds, write to shown
    ticket_seen: list[float] = field(default_factory=list)
    missed: int = 0  # pages that did not show a change within SEEN_TIMEOUT_S

    def per_page(self, pages: int) -> float:
        return (self.cpu_open - self.cpu_empty) / pages


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TICKETDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    parser.add_argument("--pages", type=int, default=10, help="idle Tickets pages (default 10)")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds per reading (60)")
    parser.add_argument("--changes", type=int, default=20, help="writes timed (default 20)")
    parser.add_argument("--tickets", type=int, default=10_000, help="seeded (default 10000)")
    parser.add_argument("--before", default="main", help="git ref of the code before (main)")
    return parser.parse_args()


# --------------------------------------------------------------------------- the code measured


def snapshot_of_work_tree(into: Path) -> None:
    """The app as it is in the work tree (as bench/harness/databases.take_snapshot copies)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in SNAPSHOT_PARTS:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, into / name)


def snapshot_of_ref(ref: str, into: Path) -> str:
    """The app at git `ref` (its committed files only); its short commit."""
    commit = git("rev-parse", "--short", ref)
    parts = [p for p in SNAPSHOT_PARTS if git("ls-tree", "--name-only", ref, p)]
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, *parts], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


def git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def ticketdesk(code: Path, *arguments: str) -> None:
    subprocess.run(
        [str(BIN / "ticketdesk"), *arguments],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code / "src")},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # its progress bar
    )


# --------------------------------------------------------------------------- the database


@contextlib.contextmanager
def seeded_database(args: argparse.Namespace, code: Path) -> Iterator[str]:
    """SQLite: a copy of a cached seeded file (bench/work/idle/); PostgreSQL: a schema of its
    own, seeded now and dropped afterwards."""
    IDLE_WORK.mkdir(parents=True, exist_ok=True)
    if args.backend == "sqlite":
        seeded = IDLE_WORK / f"sqlite-{args.tickets}.db"
        if not seeded.exists():
            log(f"seeding {args.tickets:,} tickets (once; cached in {seeded})")
            partial = seeded.with_suffix(".partial")
            for old in IDLE_WORK.glob(partial.name + "*"):
                old.unlink()
            ticketdesk(code, "--database-url", f"sqlite:///{partial}", "seed-demo", "--count",
                       str(args.tickets), "--seed", "1")  # fmt: skip
            partial.rename(seeded)
        copy = IDLE_WORK / "run.db"
        for old in IDLE_WORK.glob("run.db*"):
            old.unlink()
        shutil.copyfile(seeded, copy)
        try:
            yield f"sqlite:///{copy}"
        finally:
            for old in IDLE_WORK.glob("run.db*"):
                old.unlink()
        return
    schema = f"ticketdesk_idle_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in args.postgres_url else "?"
    url = f"{args.postgres_url}{joiner}options=-csearch_path%3D{schema}"
    try:
        log(f"seeding {args.tickets:,} tickets in schema {schema}")
        ticketdesk(code, "--database-url", url, "seed-demo", "--count", str(args.tickets),
                   "--seed", "1")  # fmt: skip
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def sessions(engine: Engine, count: int) -> list[str]:
    """`count` sign-in sessions of a bench agent (made the first time)."""
    now = dt.datetime.now(dt.UTC)
    email = "idle.bench@example.com"
    with contextlib.suppress(Exception):  # there already
        account_service.create_account(engine, None, email, "Idle Bench", "agent", PASSWORD, now)
    return [
        account_service.sign_in(engine, email, PASSWORD, "bench", now).token for _ in range(count)
    ]


# --------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_share(server: StreamlitServer, seconds: float) -> float:
    """The server's CPU use over the next `seconds`, as a fraction of one core."""
    assert server.process is not None
    started, cpu = time.monotonic(), cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (cpu_seconds(server.process.pid) - cpu) / (time.monotonic() - started)


def open_page(browser: Browser, url: str, token: str, want: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1200}, timezone_id="UTC")
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": url}])
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(url)
    page.get_by_text(want).first.wait_for()
    return context, page


def seen(page: Page, key: str) -> float | None:
    value = page.evaluate("k => (window.__seen || {})[k]", key)
    return None if value is None else float(value) / 1000


def time_changes(
    engine: Engine, list_pages: list[Page], ticket_pages: list[Page], changes: int, old: int
) -> tuple[list[float], list[float], int]:
    """Alternately a new ticket and a change of ticket `old`; for each, the seconds from the
    write's commit until each page that shows it shows it."""
    agent = account_service.session_account(engine, sessions(engine, 1)[0], utc())
    for page in list_pages + ticket_pages:
        page.evaluate(WATCH_JS)
    list_seen: list[float] = []
    ticket_seen: list[float] = []
    missed = 0
    for i in range(changes):
        time.sleep(random.uniform(2.0, 4.0))  # changes land at any point of a poll
        if i % 2 == 0:
            ticket_service.create_ticket(engine, agent, f"Idle bench {i}", "Low", utc())
            written = time.time()
            key = f"count {count_tickets(engine)}"
            pages, into = list_pages, list_seen
        else:
            current = ticket_service.ticket_detail(engine, agent, f"TICKET-{old}").ticket
            priority = "High" if current.priority.value != "High" else "Low"
            saved = ticket_service.update_ticket(
                engine, agent, old, TicketChange(priority=priority), utc(), current.version
            )
            written = time.time()
            key = f"version {saved.version}"
            pages, into = ticket_pages, ticket_seen
        deadline = time.monotonic() + SEEN_TIMEOUT_S
        waiting = list(pages)
        while waiting and time.monotonic() < deadline:
            for page in list(waiting):
                at = seen(page, key)
                if at is not None:
                    into.append(max(0.0, at - written))
                    waiting.remove(page)
            time.sleep(0.05)
        missed += len(waiting)
    return list_seen, ticket_seen, missed


def count_tickets(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM tickets")).scalar_one())


def utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def measure(
    name: str, code: Path, label: str, url: str, browser: Browser, args: argparse.Namespace
) -> Figures:
    figures = Figures(name, label)
    engine = make_engine(url)
    server = StreamlitServer(
        "ticket.py",
        cwd=code,
        log=IDLE_WORK / f"{name}.log",
        env={
            "TICKETDESK_DATABASE_URL": url,
            "TICKETDESK_DEMO_TICKETS": "0",
            "TICKETDESK_MAIL_IN_APP": "0",
            "PYTHONPATH": str(code / "src"),
        },
        flags=FLAGS,
        name=f"{name} server",
    )
    contexts: list[BrowserContext] = []
    try:
        server.start(START_TIMEOUT_S)
        log(f"{name}: server up; {args.idle:.0f} s with no page open")
        figures.cpu_empty = cpu_share(server, args.idle)
        tokens = sessions(engine, args.pages + 2)
        list_pages, ticket_pages = [], []
        for token in tokens[: args.pages]:
            context, page = open_page(browser, server.url, token, "Number of tickets")
            contexts.append(context)
            list_pages.append(page)
        for token in tokens[args.pages :]:
            context, page = open_page(browser, f"{server.url}/?ticket=TICKET-1", token, "version")
            contexts.append(context)
            ticket_pages.append(page)
        log(f"{name}: {args.pages} + 2 pages open; {args.idle:.0f} s idle")
        time.sleep(SETTLE_S)
        figures.cpu_open = cpu_share(server, args.idle)
        log(f"{name}: {args.changes} changes")
        figures.list_seen, figures.ticket_seen, figures.missed = time_changes(
            engine, list_pages, ticket_pages, args.changes, old=1
        )
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                context.close()
        server.stop()
        engine.dispose()
    return figures


# --------------------------------------------------------------------------- the report


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(args: argparse.Namespace, runs: list[Figures], started: dt.datetime) -> str:
    pages = args.pages + 2  # the two pages of one ticket are idle open pages too

    def row(title: str, cell: Any) -> str:
        return f"| {title} | " + " | ".join(cell(f) for f in runs) + " |"

    def pcts(values: list[float]) -> str:
        if not values:
            return "–"
        return (
            f"{statistics.median(values):.2f} / {percentile(values, 0.95):.2f} / "
            f"{max(values):.2f} ({len(values)})"
        )

    lines = [
        f"Idle open pages, {args.backend}, {args.tickets:,} tickets, {started:%Y-%m-%d %H:%M} "
        f"UTC: `bench/idle_pages.py {' '.join(sys.argv[1:])}`",
        "",
        "| | " + " | ".join(f"{f.name} ({f.code})" for f in runs) + " |",
        "| --- |" + " ---: |" * len(runs),
        row("Server CPU, no page open (% of a core)", lambda f: f"{100 * f.cpu_empty:.2f}"),
        row(
            f"Server CPU, {pages} idle pages open (% of a core)",
            lambda f: f"{100 * f.cpu_open:.2f}",
        ),
        row("**Per idle page (% of a core)**", lambda f: f"**{100 * f.per_page(pages):.3f}**"),
        row("Tickets list shows a new ticket: p50 / p95 / max s (n)", lambda f: pcts(f.list_seen)),
        row(
            "A ticket's page shows its change: p50 / p95 / max s (n)",
            lambda f: pcts(f.ticket_seen),
        ),
        row(f"Pages that missed a change within {SEEN_TIMEOUT_S:.0f} s", lambda f: str(f.missed)),
    ]
    if len(runs) == 2 and runs[1].per_page(pages) > 0:
        ratio = runs[0].per_page(pages) / runs[1].per_page(pages)
        lines += ["", f"An idle page costs {ratio:.1f}× less after than before."]
    lines += [
        "",
        f"{args.pages} Tickets pages and 2 pages of TICKET-1, each its own browser context and "
        f"sign-in session, idle for {args.idle:.0f} s after {SETTLE_S:.0f} s of settling; "
        "server CPU is user + system time of the `streamlit` process over the reading. "
        f"{args.changes} writes through the services, 2–4 s apart: even ones a new ticket "
        "(every Tickets page must show the new count), odd ones a new priority of TICKET-1 "
        "(its two pages must show its new version); the time is from the write's commit "
        "until the page's text shows it (in-page clock, checked every 25 ms), once per page "
        f"and change. Machine: {os.cpu_count()} cores, load average at the end "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    args = parse_args()
    started = dt.datetime.now(dt.UTC)
    state = git_state()
    commit = "nogit" if state is None else state[0] + ("-dirty" if state[1] else "")
    codes = IDLE_WORK / "code"
    if codes.exists():
        shutil.rmtree(codes)
    before, after = codes / "before", codes / "after"
    before.mkdir(parents=True)
    after.mkdir(parents=True)
    before_commit = snapshot_of_ref(args.before, before)
    snapshot_of_work_tree(after)
    runs: list[Figures] = []
    with seeded_database(args, after) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, code, label in (
                ("before", before, f"{args.before} {before_commit}"),
                ("after", after, f"work tree {commit}"),
            ):
                runs.append(measure(name, code, label, url, browser, args))
        finally:
            browser.close()
    text_ = report(args, runs, started)
    print(text_)
    RESULTS.mkdir(exist_ok=True)
    stem = f"idle-{args.backend}-{size_label(args.tickets)}-{started:%Y-%m-%d}-{commit}"
    path, n = RESULTS / f"{stem}.md", 2
    while path.exists():
        path, n = RESULTS / f"{stem}-{n}.md", n + 1
    path.write_text(text_)
    log(f"written {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
