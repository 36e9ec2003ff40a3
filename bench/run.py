"""Ticket desk benchmark: the real app, the original design and a trivial page, in Chromium.

    .venv/bin/python bench/run.py                      # 10k, 100k and 1M tickets, 5 repeats
    .venv/bin/python bench/run.py --sizes 2000 --repeats 2

For each N: seed a database (cached in bench/work/ for SQLite), start the three Streamlit
servers, measure the server memory per extra open session, then time page loads and the
submit, edit and search round trips in headless Chromium, the apps interleaved. Prints a
Markdown table of medians with the ratios to the trivial page (the floor) and to the original
design, and writes it to bench/results/ (see bench/README.md). This file is the command line
and the loop over N; the work is in bench/harness/ and bench/js/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts only bench/ on the path
    sys.path.insert(0, str(ROOT))

from bench.harness.common import APPS, CHROMIUM, CHROMIUM_ARGS, RESULTS, Options, log  # noqa: E402
from bench.harness.databases import database, take_snapshot  # noqa: E402
from bench.harness.measures import bench_size  # noqa: E402
from bench.harness.report import machine, result_stem, write_results  # noqa: E402

DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
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
    args = parser.parse_args(argv)
    apps = [a.strip() for a in args.apps.split(",") if a.strip()]
    if unknown := set(apps) - set(APPS):
        parser.error(f"unknown apps: {', '.join(sorted(unknown))}")
    return Options(
        sizes=[int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()],
        repeats=args.repeats,
        backend=args.backend,
        postgres_url=args.postgres_url,
        sessions=args.sessions,
        timeout=args.timeout,
        warmup=args.warmup,
        pause=args.pause,
        apps=apps,
        argv=sys.argv[1:] if argv is None else argv,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # Turn SIGTERM into an exception too, so that every `finally` below ends our servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from playwright.sync_api import sync_playwright

    all_results: dict[int, dict[str, Any]] = {}
    started = time.monotonic()
    stem = result_stem(options, dt.datetime.now(dt.UTC))
    failures = 0
    take_snapshot()
    info: dict[str, str] = {}
    text = ""
    with contextlib.ExitStack() as finish:
        # Whatever happens (even Ctrl-C), what was measured so far is written.
        finish.callback(lambda: all_results and write_results(all_results, info, options, stem))
        pw = finish.enter_context(sync_playwright())
        probe = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        browser_version = probe.version
        probe.close()
        info.update(machine(options, browser_version))
        for count in options.sizes:
            all_results[count] = {}
            try:
                with database(options.backend, count, options.postgres_url) as db_url:
                    bench_size(pw, count, options, db_url, all_results[count])
            except Exception as exc:  # report what was measured; go on with the next N
                failures += 1
                log(f"N={count:,} failed: {exc!r}")
                all_results[count]["error"] = repr(exc)
            # Written after every N, so that a long run that is stopped keeps what it has.
            info["Wall time"] = f"{(time.monotonic() - started) / 60:.1f} min"
            text = write_results(all_results, info, options, stem)
    print(text)
    where = RESULTS.relative_to(ROOT)
    log(f"wrote {where}/{stem}.md and .json (and {where}/latest.md, latest.json)")
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
