"""Server time of one dashboard read, against a scan of the tickets measured in the same run.

    .venv/bin/python bench/dashboard_read.py --url sqlite:///bench/work/sqlite-1000000.db
    .venv/bin/python bench/dashboard_read.py --url postgresql+psycopg://postgres@127.0.0.1/test

Times `dashboard_service.dashboard` (every figure of the period and of the one before it, the
breached
list, the tickets per assignee and the charts: what the Dashboard page reads on a cache miss)
for the last 7, 30 and 90 days, and its parts for 30 days, on a desk that is already seeded
(`ticketdesk seed-demo --count 1000000`, or bench/run.py's cached SQLite files). The baseline
is the seed's own figures (open tickets, mean first response and resolution, tickets per status
and priority) computed the plain way, by one grouped scan of the tickets: what a dashboard whose
cost grows with the data pays in this run on this machine, in a plain transaction (PostgreSQL
may scan it with parallel workers). Each line is the median and the best of `--repeats` reads,
each in one read transaction as the app runs it (db.read: on PostgreSQL one REPEATABLE READ
snapshot without parallel workers). Writes the table to
bench/results/dashboard-read-<backend>.md unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from ticketdesk.domain import durations
from ticketdesk.domain.accounts import Account, Role
from ticketdesk.queries import kpis as figures
from ticketdesk.queries import late_tickets
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.store import db
from ticketdesk.store import targets as target_store
from ticketdesk.store.schema import tickets

RESULTS = Path(__file__).resolve().parent / "results"
READER = Account(0, "bench@example.com", "Bench", Role.ADMIN)


def scan_of_the_tickets(conn: Connection) -> object:
    """The seed's figures from the tickets themselves: one grouped pass over all of them."""
    t = tickets.c
    query = select(
        t.status,
        t.priority,
        func.count(),
        func.sum(t.first_response_hours),
        func.count(t.first_response_hours),
        func.sum(t.resolution_hours),
        func.count(t.resolution_hours),
    ).group_by(t.status, t.priority)
    return conn.execute(query).all()


def timed(run: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds of `repeats` runs of `run` (after one more, which warms up and is dropped)."""
    samples = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples[1:]


def plainly(engine: Engine, work: Callable[[Connection], object]) -> Callable[[], object]:
    """`work` in a plain transaction, where PostgreSQL may scan with parallel workers."""

    def run() -> object:
        with engine.connect() as conn, conn.begin():
            return work(conn)

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="a seeded desk (SQLAlchemy URL)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    engine = db.make_engine(args.url)
    now = dt.datetime.now(dt.UTC)
    month = dashboard_service.last_days(now, 30)
    everything = select(func.count()).select_from(tickets)
    count = db.read(engine, lambda c: c.execute(everything).scalar_one())
    targets = db.read(engine, target_store.load_targets)

    def seed_figures(c: Connection) -> None:
        figures.open_tickets_now(c)
        figures.activity(c, month.first, month.last)
        figures.status_per_month(c)
        figures.priority_counts(c)

    parts: list[tuple[str, Callable[[Connection], object]]] = [
        ("Seed's figures from the counters (30 days)", seed_figures),
        (
            "Open tickets per assignee, past target",
            lambda c: late_tickets.open_by_assignee(c, targets, now),
        ),
        (
            "Median first response + resolution (30 days)",
            lambda c: [
                figures.median_hours(c, m, month.first, month.last)
                for m in (durations.FIRST_RESPONSE, durations.RESOLUTION)
            ],
        ),
        (
            "SLA shares (30 days)",
            lambda c: figures.sla_achievement(c, targets, month.start, min(month.end, now)),
        ),
        (
            "Breached tickets (30 days)",
            lambda c: dashboard_service._breaches(c, targets, month, now),
        ),
    ]
    baseline_label = "Baseline: the seed's figures by a scan of the tickets"
    rows = [(baseline_label, timed(plainly(engine, scan_of_the_tickets), args.repeats))]
    for label, work in parts:  # as the app reads: db.read
        rows.append((label, timed(functools.partial(db.read, engine, work), args.repeats)))
    for days in (7, 30, 90):
        whole = functools.partial(dashboard_service.dashboard, engine, READER, now, days)
        rows.append((f"Whole dashboard read, last {days} days", timed(whole, args.repeats)))
    engine.dispose()

    baseline = statistics.median(rows[0][1])
    table = [
        "| Read | Median | Best | Median ÷ baseline |",
        "|---|---|---|---|",
        *(
            f"| {label} | {statistics.median(s):.1f} ms | {min(s):.1f} ms | "
            f"{statistics.median(s) / baseline:.2g}× |"
            for label, s in rows
        ),
    ]
    backend = engine.dialect.name
    text = "\n".join(
        [
            f"Dashboard read of {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {backend}, "
            f"{count:,} tickets: `bench/dashboard_read.py`, {args.repeats} reads each, "
            f"Python {platform.python_version()}, {platform.machine()}, "
            f"{platform.processor() or 'cpu unknown'}.",
            "",
            *table,
            "",
        ]
    )
    print(text)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"dashboard-read-{backend}.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
