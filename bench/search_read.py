"""Server time of a searched ticket-table read, for rare and common words, against the
unfiltered first page and a `SELECT 1` measured in the same run.

    .venv/bin/python bench/search_read.py --plant --url sqlite:////tmp/bench1m.db
    .venv/bin/python bench/search_read.py --plant \
        --url 'postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Dbench'

On a desk that is already seeded (`ticketdesk seed-demo --count 1000000 --seed 1`), times
`ticket_service.ticket_page` (the capped count, the page, the revision and the targets in one
read transaction: what the Tickets page reads) for words that 0, 1, 100, 2,000, 10,000,
20,000, 50,000 and 290,000 of 1M tickets hold, sorted by ID (newest first), by priority and by
date, on the first page and on the last one (from the end when the count is exact; at offset
9,950 when it stopped at 10,000: page 200 of "10,000+"). The demo texts hold no rare word, so
`--plant` first appends a few to the issues of tickets spread over the id range (an UPDATE, as
edits would; once: a desk that holds them is left as it is): `kx7731` in one ticket, `toner`
in one in 10,000, `stapler` in one in 500, `duplex` in one in 100, `scanner` in one in 50; on
PostgreSQL it then CLUSTERs the table in id order (see plant). Each line is the median and the
best of `--repeats` reads (after one more, dropped), and its median over the unfiltered first
page's. Then EXPLAIN ANALYZE (SQLite: EXPLAIN QUERY PLAN) of every statement of three first
pages. Writes bench/results/search-<backend>-<N>-<date>-<commit>.md unless --no-write.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, text, update

from bench.harness.report import git_state
from ticketdesk.domain.accounts import Account, Role
from ticketdesk.queries import ticket_table
from ticketdesk.queries.ticket_table import Sort, SortColumn, TicketFilter
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store import db
from ticketdesk.store.projections.revision import bump_revision
from ticketdesk.store.schema import tickets

RESULTS = Path(__file__).resolve().parent / "results"
READER = Account(0, "bench@example.com", "Bench", Role.ADMIN)

# (word, what --plant writes: tickets whose id % modulus == remainder get " (word)" appended)
PLANTED = {
    "kx7731": (1_000_000, 777_777),
    "toner": (10_000, 4_321),
    "stapler": (500, 123),
    "duplex": (100, 37),
    "scanner": (50, 11),
}
WORDS = [
    ("printer0", "no ticket"),
    ("kx7731", "1 ticket (planted)"),
    ("toner", "1 in 10,000 (planted)"),
    ("stapler", "1 in 500 (planted)"),
    ("duplex", "1 in 100 (planted)"),
    ("scanner", "1 in 50 (planted)"),
    ("printer", "1 in 20 (demo text)"),
    ("for", "about 3 in 10 (demo text)"),
]
SORTS = [
    ("ID, newest first", Sort(SortColumn.ID, descending=True)),
    ("Priority, highest first", Sort(SortColumn.PRIORITY, descending=False)),
    ("Date submitted, oldest first", Sort(SortColumn.SUBMITTED, descending=False)),
]


def plant(engine: Engine) -> None:
    """Append the planted words to their tickets' issues, unless the desk holds them already.
    On PostgreSQL the updated rows' new versions would sit together at the table's end, which
    flatters a read of them all (a few hundred pages instead of one each): CLUSTER puts the
    table back in id order, as the tickets were filed, and ANALYZE counts the words again."""
    planted = False
    with engine.begin() as conn:
        for word, (modulus, remainder) in PLANTED.items():
            found = conn.execute(
                select(func.count()).where(tickets.c.issue.like(f"%({word})"))
            ).scalar_one()
            if found:
                continue
            conn.execute(
                update(tickets)
                .where((tickets.c.id % modulus) == remainder)
                .values(issue=tickets.c.issue + f" ({word})")
            )
            planted = True
        if planted:
            bump_revision(conn)
    if planted and engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            print("planted; CLUSTER tickets USING tickets_pkey (a minute or two at 1M)")
            conn.exec_driver_sql("CLUSTER tickets USING tickets_pkey")
            conn.exec_driver_sql("ANALYZE tickets")


def select_one(conn: Connection) -> object:
    return conn.execute(text("SELECT 1")).scalar()


def server_settings(conn: Connection) -> str:
    """PostgreSQL's version and the settings that decide how much of a 1M desk is cached."""
    shown = [
        f"{name} {conn.exec_driver_sql(f'SHOW {name}').scalar_one()}"
        for name in ("shared_buffers", "work_mem")
    ]
    return f"{conn.exec_driver_sql('SHOW server_version').scalar_one()} ({', '.join(shown)})"


def timed(run: Callable[[], object], repeats: int) -> list[float]:
    """Milliseconds of `repeats` runs of `run` (after one more, which warms up and is dropped)."""
    samples = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    return samples[1:]


def page_reader(engine: Engine, flt: TicketFilter, sort: Sort, last: bool) -> Callable[[], Any]:
    """The read of the first page, or of the last one as the pager's last button asks for it
    (its number from a first read, made once here, not timed)."""
    number = 1
    if last:
        number = ticket_service.ticket_page(engine, READER, flt, sort, page=1).pages
    return lambda: ticket_service.ticket_page(engine, READER, flt, sort, page=number)


def statements_of(engine: Engine, run: Callable[[], object]) -> list[tuple[str, Any]]:
    """The SQL statements (with their parameters) that `run` sends."""
    seen: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def explain(engine: Engine, flt: TicketFilter, sort: Sort) -> str:
    """EXPLAIN ANALYZE (PostgreSQL) or EXPLAIN QUERY PLAN (SQLite) of each statement of the
    first page's read that touches the tickets, after the SET LOCALs that the read sends."""
    sent = statements_of(engine, page_reader(engine, flt, sort, last=False))
    prefix = "EXPLAIN (ANALYZE, BUFFERS)" if engine.dialect.name == "postgresql" else None
    out = []

    def work(conn: Connection) -> None:
        for statement, parameters in sent:
            if statement.lstrip().upper().startswith("SET"):
                conn.exec_driver_sql(statement)
                out.append(f"```sql\n{statement}\n```\n")
                continue
            if "tickets" not in statement:
                continue
            if prefix is None:
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plan = "\n".join(f"{r[0]:>3} {r[1]:>3} {r[3]}" for r in rows)
            else:
                rows = conn.exec_driver_sql(f"{prefix} {statement}", parameters)
                plan = "\n".join(r[0] for r in rows)
            out.append(f"```sql\n{statement}\n-- {parameters}\n```\n\n```\n{plan}\n```\n")

    db.read(engine, work)
    return "\n".join(out)


def size_label(count: int) -> str:
    """1,000,000 -> 1m, 100,000 -> 100k (to the nearest: planted rows add none)."""
    if count >= 1_000_000:
        return f"{round(count / 1_000_000)}m"
    if count >= 1000:
        return f"{round(count / 1000)}k"
    return str(count)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="a seeded desk (SQLAlchemy URL)")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--plant", action="store_true", help="write the rare words first")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    engine = db.make_engine(args.url)
    backend = engine.dialect.name
    if args.plant:
        plant(engine)
    count = db.read(
        engine, lambda c: c.execute(select(func.count()).select_from(tickets)).scalar_one()
    )
    started = dt.datetime.now(dt.UTC)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())

    one = timed(functools.partial(db.read, engine, select_one), 3 * args.repeats)
    floor = timed(page_reader(engine, TicketFilter(), Sort(), last=False), args.repeats)
    base = statistics.median(floor)
    lines = [
        "| Word (tickets holding it) | Sort | Page | Median | Best | Median ÷ unfiltered page |",
        "|---|---|---|---|---|---|",
        f"| `SELECT 1` in a read transaction | – | – | {statistics.median(one):.1f} ms | "
        f"{min(one):.1f} ms | {statistics.median(one) / base:.2g}× |",
        f"| Unfiltered (the baseline) | ID, newest first | first | {base:.1f} ms | "
        f"{min(floor):.1f} ms | 1× |",
    ]
    for word, about in WORDS:
        flt = TicketFilter(search=word)
        matching, capped = db.read(engine, functools.partial(ticket_table.count, flt=flt))
        held = f"more than {matching:,}" if capped else f"{matching:,}"
        for sort_label, sort in SORTS:
            for last in (False, True):
                samples = timed(page_reader(engine, flt, sort, last), args.repeats)
                median = statistics.median(samples)
                which = "last" if last else "first"
                lines.append(
                    f"| `{word}` ({held}; {about}) | {sort_label} | {which} | {median:.1f} ms | "
                    f"{min(samples):.1f} ms | {median / base:.2g}× |"
                )
                print(lines[-1], flush=True)
    plans = [
        f"### `{word}`, {sort_label}\n\n{explain(engine, TicketFilter(search=word), sort)}"
        for word, (sort_label, sort) in [
            (WORDS[0][0], SORTS[0]),
            (WORDS[1][0], SORTS[1]),
            (WORDS[-1][0], SORTS[1]),
        ]
    ]
    version = ""
    if backend == "postgresql":
        version = db.read(engine, server_settings)
    engine.dispose()

    state = git_state()
    commit = "nogit" if state is None else state[0] + ("-dirty" if state[1] else "")
    report = "\n".join(
        [
            f"# Search read, {backend}, {count:,} tickets",
            "",
            f"{started:%Y-%m-%d %H:%M} UTC, `bench/search_read.py`, commit {commit}, "
            f"{args.repeats} reads each (medians; the best in its column), Python "
            f"{platform.python_version()}, {backend} "
            f"{version or sqlite3.sqlite_version}, load average at start {load}.",
            "Each read is `ticket_service.ticket_page` in one read transaction: the capped "
            "count, the page of 50, the revision and the SLA targets.",
            "",
            *lines,
            "",
            "## Plans of the first page: the rarest words, and the commonest",
            "",
            *plans,
        ]
    )
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"search-{backend}-{size_label(count)}-{started:%Y-%m-%d}-{commit}"
        path, n = RESULTS / f"{stem}.md", 2
        while path.exists():  # another run of the same day and commit: keep both
            path, n = RESULTS / f"{stem}-{n}.md", n + 1
        path.write_text(report + "\n")
        print(f"\nwritten to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
