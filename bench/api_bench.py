"""API benchmark (issue 22): the HTTP API's list and create against a trivial route of the same
server, in one run, at bounded concurrency.

    .venv/bin/python bench/api_bench.py                          # SQLite, 1M tickets
    .venv/bin/python bench/api_bench.py --backend postgresql     # a PostgreSQL schema, 1M
    .venv/bin/python bench/api_bench.py --tickets 10000 --seconds 2 --rounds 1   # a quick try

The server is the desk's own (`streamlit run`, the API mounted into Streamlit's Starlette app
by st.App, as ticket.py does), started from bench/api_app.py: ticket.py's app plus the floor,
`GET /api/bench-floor`, a trivial async Starlette route behind the same middleware. The
database is the harness's (bench/harness/databases.py: the cached seeded SQLite file's copy,
or a PostgreSQL schema seeded for the run), with bench/search_read.py's rare words planted.
The server runs with TICKETDESK_API_RATE_PER_MINUTE at a billion, so the bench's tokens are
never throttled while every request still takes from its bucket (on PostgreSQL the shared one
in the database), as in production; the default (600) is not touched.

For each concurrency (`--concurrency`, default 1, 8 and 32 clients: coroutines of one httpx
AsyncClient with as many keep-alive connections) and each operation, the clients send
requests back to back for `--seconds` (after one unmeasured second), `--rounds` times, the
operations interleaved: the floor; the list (GET /api/v1/tickets, a page of 50) unfiltered,
searching a rare word (`toner`, 1 ticket in 10,000) on its first and last page and a common
one (`printer`, 1 in 20) on its first page and the last one its cursors reach; creating a
ticket with an agent's token and with a requester's. Reported: requests per second, p50 and
p95 latency, the server process's CPU time per request (/proc; on PostgreSQL the database's
own work is in its processes, not in this figure), this client's, and the ratios to the floor
at the same concurrency. Writes bench/results/api-<backend>-<N>-<date>-<commit>.md unless
--no-write."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/api_bench.py` puts only bench/ on the path
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from bench.harness.common import BENCH, LOGS, RESULTS, SNAPSHOT, log  # noqa: E402
from bench.harness.databases import database, take_snapshot  # noqa: E402
from bench.harness.report import git_state, size_label  # noqa: E402
from bench.harness.servers import FLAGS, START_TIMEOUT_S, desk_env  # noqa: E402
from bench.search_read import plant  # noqa: E402
from tests.support.server import StreamlitServer  # noqa: E402
from ticketdesk.services import accounts as account_service  # noqa: E402
from ticketdesk.services import tokens as token_service  # noqa: E402
from ticketdesk.store import db  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
APP_MODULE = "bench_api_app.py"  # bench/api_app.py, beside the snapshot's ticket.py
FLOOR_PATH = "/api/bench-floor"  # bench/api_app.py's route
DESK_APP = "routes=routes() + api.routes(), middleware=middleware()"
"""How ticket.py builds its app, which bench/api_app.py copies: checked before a run."""
UNTHROTTLED = str(10**9)  # requests a minute per token: the bench never waits for its bucket
RARE, COMMON = "toner", "printer"
PAGE = 50
WARM_S = 1.0
TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Op:
    """One kind of request: `send(client, worker, n)` makes the worker's n-th."""

    name: str
    send: Callable[[httpx.AsyncClient, int, int], Any]
    status: int


@dataclass
class Cell:
    """The samples of one operation at one concurrency, over the rounds."""

    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    unexpected: Counter[int] = field(default_factory=Counter)


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


# ------------------------------------------------------------------------------ the desk


def check_app_module() -> None:
    """bench/api_app.py builds the app as ticket.py does, plus the floor: refuse to measure
    a server that no longer matches the desk's."""
    if DESK_APP not in (ROOT / "ticket.py").read_text():
        raise SystemExit(
            f"ticket.py no longer builds its app with `{DESK_APP}`: update bench/api_app.py "
            "to build it the same way (and DESK_APP here)."
        )


def tokens(engine: Engine) -> dict[str, token_service.NewToken]:
    """API tokens of new accounts (the desk needs no password for them): an agent's and a
    requester's for the requests, and another of the agent's for limiter_cost."""
    now = datetime.now(UTC)
    made = {}
    for role in ("agent", "requester"):
        stamp = f"{role}.{time.time_ns()}"
        account = account_service.create_account(
            engine, None, f"bench.{stamp}@example.com", f"Bench {role}", role, None, now
        )
        made[role] = token_service.create_token(engine, account, "bench", 1, False, now)
        if role == "agent":
            made["limiter"] = token_service.create_token(engine, account, "limiter", 1, False, now)
    return made


def server(db_url: str, count: int) -> StreamlitServer:
    env = {**desk_env(db_url), "TICKETDESK_API_RATE_PER_MINUTE": UNTHROTTLED}
    return StreamlitServer(
        APP_MODULE,
        cwd=SNAPSHOT,
        log=LOGS / f"api-{count}.log",
        env=env,
        flags=FLAGS,
        append_log=True,
        name="desk server",
    )


# ------------------------------------------------------------------------------ the requests


def list_params(search: str = "") -> dict[str, str | int]:
    params: dict[str, str | int] = {"limit": PAGE}
    if search:
        params["search"] = search
    return params


def last_cursor(base: str, token: str, search: str) -> tuple[str | None, int, dict[str, Any]]:
    """The cursor of the last page that following `next_cursor` reaches, how many pages that
    took, and the first page's answer (unmeasured)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT_S) as client:
        first = client.get("/api/v1/tickets", params=list_params(search))
        first.raise_for_status()
        body = first.json()
        cursor, pages = None, 1
        while body["next_cursor"]:
            cursor = body["next_cursor"]
            answer = client.get("/api/v1/tickets", params={**list_params(search), "cursor": cursor})
            answer.raise_for_status()
            body, pages = answer.json(), pages + 1
        return cursor, pages, first.json()


def operations(base: str, tokens_of: dict[str, str]) -> tuple[list[Op], list[str]]:
    """The operations measured, the floor first, and lines about the pages they read."""
    agent = {"Authorization": f"Bearer {tokens_of['agent']}"}
    requester = {"Authorization": f"Bearer {tokens_of['requester']}"}
    notes = []

    def get_list(params: dict[str, str | int]) -> Callable[[httpx.AsyncClient, int, int], Any]:
        return lambda c, _w, _n: c.get("/api/v1/tickets", params=params, headers=agent)

    def create(headers: dict[str, str], role: str) -> Callable[[httpx.AsyncClient, int, int], Any]:
        def send(c: httpx.AsyncClient, worker: int, n: int) -> Any:
            issue = f"Bench {role} {worker}-{n}: the printer on floor 3 jams"
            return c.post(
                "/api/v1/tickets", json={"issue": issue, "priority": "Low"}, headers=headers
            )

        return send

    ops = [
        Op("floor: GET /api/bench-floor", lambda c, _w, _n: c.get(FLOOR_PATH), 200),
        Op("list, unfiltered, first page", get_list(list_params()), 200),
    ]
    for word, label in ((RARE, "rare"), (COMMON, "common")):
        cursor, pages, first = last_cursor(base, tokens_of["agent"], word)
        bound = "at least " if first["matching_is_lower_bound"] else ""
        notes.append(
            f"`{word}`: {bound}{first['matching']:,} matching tickets; its cursors reach "
            f"{pages} page(s) of {PAGE}."
        )
        ops.append(
            Op(f"list, search `{word}` ({label}), first page", get_list(list_params(word)), 200)
        )
        if cursor is not None:
            last = {**list_params(word), "cursor": cursor}
            ops.append(
                Op(f"list, search `{word}` ({label}), last page ({pages})", get_list(last), 200)
            )
    ops.append(Op("create, agent's token", create(agent, "agent"), 201))
    ops.append(Op("create, requester's token", create(requester, "requester"), 201))
    return ops, notes


async def measure(base: str, op: Op, clients: int, seconds: float, pid: int, cell: Cell) -> None:
    """`clients` workers send `op` back to back for WARM_S + `seconds`; the requests started
    in the last `seconds` are measured (one started before the end is waited for and
    counted). One phase, not a warm-up and then a start together: a worker that waited for
    the others would leave its connection idle, and the server closes a connection idle for
    5 s (uvicorn's keep-alive) just as the next request may be sent on it."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=TIMEOUT_S) as client:
        sent = Counter[int]()
        begin = time.perf_counter() + WARM_S
        until = begin + seconds

        async def worker(w: int) -> None:
            while (start := time.perf_counter()) < until:
                try:
                    answer = await op.send(client, w, sent[w])
                    status = answer.status_code
                except httpx.TransportError:
                    status = 0  # no answer: reported with the unexpected ones
                took = time.perf_counter() - start
                sent[w] += 1
                if start >= begin:
                    cell.latencies.append(took)
                    if status != op.status:
                        cell.unexpected[status] += 1

        async def counters() -> tuple[float, float]:
            await asyncio.sleep(begin - time.perf_counter())
            return server_cpu_seconds(pid), time.process_time()

        reading = asyncio.create_task(counters())
        await asyncio.gather(*(worker(w) for w in range(clients)))
        cpu, own = await reading
        cell.seconds += time.perf_counter() - begin
        cell.server_cpu += server_cpu_seconds(pid) - cpu
        cell.client_cpu += time.process_time() - own


def limiter_cost(engine: Engine, token_id: int, repeats: int = 300) -> str:
    """PostgreSQL: one take from the shared bucket (the service the API calls per request)
    and a `SELECT 1` read transaction, from this process: medians in ms."""

    def timed(run: Callable[[], object]) -> float:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            samples.append((time.perf_counter() - start) * 1000)
        return statistics.median(samples)

    take = timed(lambda: token_service.take_request(engine, token_id, 10**9, time.time()))
    one = timed(lambda: db.read(engine, lambda c: c.execute(text("SELECT 1")).scalar()))
    return (
        f"The shared rate limit's take (`tokens.take_request`: one upsert, its own "
        f"transaction, commit not waiting for the disk), from this process: median "
        f"{take:.2f} ms over {repeats}; a `SELECT 1` read transaction: {one:.2f} ms."
    )


# ------------------------------------------------------------------------------ the report


def tables(
    ops: list[Op], cells: dict[tuple[int, str], Cell], levels: list[int]
) -> tuple[list[str], list[str]]:
    """The Markdown tables, one per concurrency, and the unexpected answers."""
    lines, problems = [], []
    for clients in levels:
        floor = cells[(clients, ops[0].name)]
        floor_rps = len(floor.latencies) / floor.seconds
        floor_p95 = p95(floor.latencies)
        floor_cpu = floor.server_cpu / len(floor.latencies)
        lines += [
            f"### {clients} concurrent client{'s' if clients > 1 else ''}",
            "",
            "| Operation | Requests | Requests/s | p50 | p95 | Server CPU/request | "
            "Client CPU/request | Requests/s ÷ floor | p95 ÷ floor | Server CPU ÷ floor |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for op in ops:
            cell = cells[(clients, op.name)]
            count = len(cell.latencies)
            rps = count / cell.seconds
            lines.append(
                f"| {op.name} | {count:,} | {rps:,.0f} | "
                f"{statistics.median(cell.latencies) * 1000:.1f} ms | "
                f"{p95(cell.latencies) * 1000:.1f} ms | "
                f"{cell.server_cpu / count * 1000:.2f} ms | "
                f"{cell.client_cpu / count * 1000:.2f} ms | "
                f"{rps / floor_rps:.3f}× | {p95(cell.latencies) / floor_p95:.1f}× | "
                f"{cell.server_cpu / count / floor_cpu:.1f}× |"
            )
            if cell.unexpected:
                problems.append(f"{op.name}, {clients} clients: {dict(cell.unexpected)}")
        lines.append("")
    return lines, problems


def database_version(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        buffers = conn.execute(text("SHOW shared_buffers")).scalar_one()
    return f"PostgreSQL {version} (shared_buffers {buffers})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--concurrency", default="1,8,32", help="clients at once, e.g. 1,8,32")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured per operation")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",")]

    check_app_module()
    started = dt.datetime.now(dt.UTC)
    state = git_state()
    commit = "nogit" if state is None else state[0] + ("-dirty" if state[1] else "")
    take_snapshot()
    shutil.copy2(BENCH / "api_app.py", SNAPSHOT / APP_MODULE)

    with database(args.backend, args.tickets, args.postgres_url) as url:
        engine = db.make_engine(url)
        log("planting the rare words (bench/search_read.py's plant)")
        plant(engine)
        made = tokens(engine)
        tokens_of = {role: new.token for role, new in made.items()}
        desk = server(url, args.tickets)
        log("starting the desk's server")
        desk.start(START_TIMEOUT_S)
        try:
            assert desk.process is not None
            ops, notes = operations(desk.url, tokens_of)
            measured = dt.datetime.now(dt.UTC)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            cells = {(c, op.name): Cell() for c in levels for op in ops}
            for round_ in range(args.rounds):
                for clients in levels:
                    for op in ops:
                        log(f"round {round_ + 1}, {clients} clients: {op.name}")
                        asyncio.run(
                            measure(
                                desk.url,
                                op,
                                clients,
                                args.seconds,
                                desk.process.pid,
                                cells[(clients, op.name)],
                            )
                        )
            limiter = ""
            if engine.dialect.name == "postgresql":
                limiter = limiter_cost(engine, made["limiter"].info.id)
        finally:
            desk.stop()
        version = database_version(engine)
        engine.dispose()

    lines, problems = tables(ops, cells, levels)
    backend = args.backend
    report = "\n".join(
        [
            f"# API, {backend}, {args.tickets:,} tickets",
            "",
            f"Measured from {measured:%Y-%m-%d %H:%M} UTC, `bench/api_bench.py "
            f"{' '.join(argv if argv is not None else sys.argv[1:])}`, commit {commit}; "
            f"{version}, Python {platform.python_version()}, {os.cpu_count()} cores "
            f"(shared with other work; load average when the measuring began {load}).",
            "",
            "The desk's own server (`streamlit run`, the API mounted in Streamlit's Starlette "
            "app; bench/api_app.py) on the seeded desk, against the floor: a trivial async "
            "Starlette route of the same server behind the same middleware. The clients: one "
            "httpx AsyncClient on the same machine, each client a coroutine sending requests "
            f"back to back for {args.seconds:g} s (after {WARM_S:g} s unmeasured), "
            f"{args.rounds} rounds, the operations interleaved. Requests/s and CPU are over "
            "all rounds; p50 and p95 are of every request's time. List pages are of "
            f"{PAGE}, as an agent, sorted by ID, newest first. "
            f"TICKETDESK_API_RATE_PER_MINUTE={UNTHROTTLED}: every request takes from its "
            "token's bucket, none waits.",
            "",
            *(f"- {note}" for note in notes),
            *(["- " + limiter] if limiter else []),
            "",
            *lines,
            *(
                [
                    "Unexpected answers (status: count; 0: no answer):",
                    "",
                    *(f"- {p}" for p in problems),
                    "",
                ]
                if problems
                else ["Every answer had the expected status (200, or 201 for creates).", ""]
            ),
        ]
    )
    print(report)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        stem = f"api-{backend}-{size_label(args.tickets)}-{started:%Y-%m-%d}-{commit}"
        path, n = RESULTS / f"{stem}.md", 2
        while path.exists():
            path, n = RESULTS / f"{stem}-{n}.md", n + 1
        path.write_text(report + "\n")
        log(f"written to {path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
