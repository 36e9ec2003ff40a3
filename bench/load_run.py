"""Ticket desk under load: hundreds of signed-in agents on one app server (issue 23).

    .venv/bin/python bench/load_run.py                        # SQLite, 1M tickets
    .venv/bin/python bench/load_run.py --backend postgresql   # PostgreSQL, 1M tickets
    .venv/bin/python bench/load_run.py --tickets 2000 --steps 5,10 --step-seconds 30  # a try
    .venv/bin/python bench/load_run.py --backend postgresql --servers 2  # 2 behind HAProxy

Seeds (or reuses) the desk as bench/run.py does, starts the app server the same way, makes
one agent account per session and runs the phases of bench/load/steps.py: no session, one
session alone, then 10, 50, 100, 200 and 400 sessions, each step ramped up, measured idle
(at --idle-at) and acting. Agents speak Streamlit's WebSocket protocol (bench/load/); a few
are real Chromium pages doing the same. With --servers K (PostgreSQL), K app servers behind
HAProxy with deploy/haproxy.cfg (bench/load/servers.py), the agents keeping its sticky cookie.
Writes bench/results/load-<backend>-<N>[-<K>srv]-<date>-<commit>.md and .json; see
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/load_run.py` puts only bench/ on the path
    sys.path.insert(0, str(ROOT))

from bench.harness.common import RESULTS, log  # noqa: E402
from bench.harness.databases import database, take_snapshot  # noqa: E402
from bench.harness.report import app_version  # noqa: E402
from bench.load.agents import Think  # noqa: E402
from bench.load.report import machine, result_stem, write  # noqa: E402
from bench.load.servers import app_target, proxy_description, refusal, routing  # noqa: E402
from bench.load.steps import APPLICATION_NAME, Run, Settings, make_accounts, password  # noqa: E402
from tests.support.cluster import haproxy_missing  # noqa: E402

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def numbers(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def span(text: str) -> Think:
    low, _, high = text.partition("-")
    return Think(float(low), float(high or low))


def parse_args(argv: list[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add = parser.add_argument
    add("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    add("--tickets", type=int, default=1_000_000, help="tickets seeded (default 1000000)")
    add(
        "--servers",
        type=int,
        default=1,
        help="app servers (default 1); more than one: on PostgreSQL only, behind HAProxy with "
        "deploy/haproxy.cfg (sticky sessions), the agents at the proxy",
    )
    add(
        "--steps", default="10,50,100,200,400", help="sessions per step (default 10,50,100,200,400)"
    )
    add("--step-seconds", type=float, default=150, help="acting time per step (default 150)")
    add("--idle-seconds", type=float, default=60, help="idle windows (default 60)")
    add("--idle-at", default="10,100", help="steps measured idle first (default 10,100)")
    add("--single-seconds", type=float, default=120, help="single session's time (default 120)")
    add("--think", default="20-60", help="seconds between an agent's actions (default 20-60)")
    add("--single-think", default="2-5", help="think time of the single session (default 2-5)")
    add("--browser-think", default="5-15", help="think time of the browsers (default 5-15)")
    add("--browsers", type=int, default=2, help="Chromium pages among the sessions (default 2)")
    add("--ramp-rate", type=float, default=5, help="sessions added per second (default 5)")
    add("--timeout", type=float, default=60, help="seconds allowed per action (default 60)")
    add("--seed", type=int, default=1, help="random seed of the agents (default 1)")
    add(
        "--postgres-url",
        default=os.environ.get("TICKETDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="default $TICKETDESK_BENCH_POSTGRES_URL or " + DEFAULT_POSTGRES_URL,
    )
    add("--keep-going", action="store_true", help="go on after a step where most actions failed")
    add(
        "--nice",
        type=int,
        default=-10,
        help="niceness of this run, which the server and Chromium inherit (default -10: the "
        "run is measured as on a machine of its own; other work on it keeps running)",
    )
    args = parser.parse_args(argv)
    if why := refusal(args.servers, args.backend):
        parser.error(why)
    if args.servers > 1 and (why := haproxy_missing()):
        parser.error(why)
    return Settings(
        backend=args.backend,
        tickets=args.tickets,
        steps=sorted(numbers(args.steps)),
        step_seconds=args.step_seconds,
        idle_seconds=args.idle_seconds,
        idle_at=numbers(args.idle_at),
        single_seconds=args.single_seconds,
        think=span(args.think),
        single_think=span(args.single_think),
        browser_think=span(args.browser_think),
        browsers=args.browsers,
        ramp_rate=args.ramp_rate,
        timeout_s=args.timeout,
        seed=args.seed,
        postgres_url=args.postgres_url,
        keep_going=args.keep_going,
        nice=args.nice,
        servers=args.servers,
        argv=sys.argv[1:] if argv is None else argv,
    )


def with_application_name(url: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={APPLICATION_NAME}"


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, settings.nice)
    except OSError as exc:  # a negative niceness needs root (CAP_SYS_NICE)
        log(f"running at niceness {os.getpriority(os.PRIO_PROCESS, 0)}: {exc}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # every `finally` below runs
    started = time.monotonic()
    stem = result_stem(
        settings.backend, settings.tickets, dt.datetime.now(dt.UTC), settings.servers
    )
    take_snapshot()
    measured = app_version()  # the snapshot's; commits made while the run seeds are not in it
    secret = password()
    run: Run | None = None
    try:
        with database(settings.backend, settings.tickets, settings.postgres_url) as db_url:
            make_accounts(db_url, max(settings.steps, default=0) + settings.browsers + 5, secret)
            app_url = with_application_name(db_url) if settings.backend == "postgresql" else db_url
            with app_target(settings.servers, settings.tickets, app_url) as target:
                run = Run(settings, target, db_url, secret)
                run.result.info.update(machine(settings.backend, settings.postgres_url))
                run.result.info["Ticket desk"] = measured
                if settings.servers > 1:
                    run.result.info["App servers"] = proxy_description(settings.servers)
                run.result.info["Niceness"] = (
                    f"{os.getpriority(os.PRIO_PROCESS, 0)} (this run: the "
                    + ("servers, the proxy" if settings.servers > 1 else "server")
                    + ", the generator, Chromium); other work on the machine and PostgreSQL at "
                    "their own"
                )
                try:
                    asyncio.run(run.run())
                finally:
                    if target.proxy_log is not None:  # the agents are gone: every line is in
                        with contextlib.suppress(OSError):
                            time.sleep(0.5)
                            run.result.routing = routing(
                                target.proxy_log.read_text(errors="replace"), target.names
                            )
    finally:  # whatever was measured is written, even after Ctrl-C or a failure
        if run is not None and run.result.phases:
            run.result.info["Wall time"] = f"{(time.monotonic() - started) / 60:.1f} min"
            print(write(run.result, stem))
            log(f"wrote {RESULTS.relative_to(ROOT)}/{stem}.md and .json")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; server stopped")
        sys.exit(130)
