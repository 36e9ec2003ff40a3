"""Mail benchmark (issue 20), in one run on a seeded desk:

    .venv/bin/python bench/mail_bench.py                       # 1M tickets, 1,000 mails
    .venv/bin/python bench/mail_bench.py --tickets 10000 --mails 200 --loads 3
    .venv/bin/python bench/mail_bench.py --backend postgresql   # a schema seeded for the run

1. Incoming mail against the web form: `ticketdesk mail-gateway` on the desk's database takes
   `--mails` new tickets by SMTP (the time of each SMTP transaction: the gateway answers once
   the ticket is stored); the desk's own form files `--submits` tickets in Chromium (click on
   Submit until the confirmation shows, bench/harness's measure). Ratio of the medians.
2. Outbox delivery delay: from a notification's creation (in the ticket's transaction) to its
   acceptance by a local SMTP server (aiosmtpd), p50 and p95, for the mails of step 1, sent
   by the worker that runs in the app server.
3. The web pages while the worker works: page loads of the Tickets page (until the grid
   shows) and of the trivial page, interleaved, first with an empty outbox, then while the
   app server's worker delivers `--queued` mails (to a server that takes 20 ms per mail, so
   the whole measurement falls within the delivery). Ratio to the floor in both cases.

Results go to bench/results/mail-<backend>-<N>-<date>-<commit>.md and .json. The seeded SQLite
file is bench/run.py's cache (bench/work/sqlite-<N>.db); on PostgreSQL (`--backend
postgresql`, `--postgres-url` or $TICKETDESK_BENCH_POSTGRES_URL) a schema of its own is seeded
for the run and dropped after it, as bench/run.py does."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import smtplib
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/mail_bench.py` puts only bench/ on the path
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, sync_playwright  # noqa: E402
from sqlalchemy import Engine, func, select  # noqa: E402

from bench.harness.common import (  # noqa: E402
    BIN,
    CHROMIUM,
    CHROMIUM_ARGS,
    LOGS,
    RESULTS,
    SNAPSHOT,
    log,
)
from bench.harness.databases import (  # noqa: E402
    BENCH_EMAIL,
    create_bench_account,
    database,
    snapshot_env,
    take_snapshot,
)
from bench.harness.measures import load, make_apps, measure_submit, new_page  # noqa: E402
from bench.harness.report import git_state  # noqa: E402
from bench.harness.servers import FLAGS, START_TIMEOUT_S  # noqa: E402
from tests.support.server import StreamlitServer, free_port  # noqa: E402
from tests.support.smtp import SmtpServer  # noqa: E402

DESK = "support@bench.example"
TIMEOUT_S = 120.0
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def new_ticket_mail(n: int) -> bytes:
    return (
        f"From: Bench Agent <{BENCH_EMAIL}>\r\nTo: {DESK}\r\nSubject: Mail ticket {n}\r\n"
        f"Message-ID: <bench-{n}-{uuid.uuid4().hex[:8]}@bench.example>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"The printer in room {n} prints blank pages since this morning.\r\n"
    ).encode()


def servers(url: str, smtp: SmtpServer, count: int) -> dict[str, StreamlitServer]:
    ours_env = {
        "TICKETDESK_DATABASE_URL": url,
        "TICKETDESK_DEMO_TICKETS": "0",
        "TICKETDESK_MAIL_ADDRESS": DESK,
        "TICKETDESK_SMTP_URL": smtp.url,
        "PYTHONPATH": snapshot_env()["PYTHONPATH"],
    }

    def server(name: str, script: str, env: dict[str, str], cwd: Path) -> StreamlitServer:
        return StreamlitServer(
            script,
            cwd=cwd,
            log=LOGS / f"mail-{count}-{name}.log",
            env=env,
            flags=FLAGS,
            append_log=True,
            name=f"{name} server",
        )

    return {
        "ours": server("ours", "ticket.py", ours_env, SNAPSHOT),
        "floor": server("floor", "bench/trivial_app.py", {}, ROOT),
        "baseline": server("baseline", "bench/baseline_app.py", {"BENCH_TICKETS": "10"}, ROOT),
    }


def outbox_delays(
    engine: Engine, smtp: SmtpServer, since_id: int, until_id: int | None = None
) -> list[float]:
    """Seconds from each outbox row's creation (ids since_id < id <= until_id) to the SMTP
    server's acceptance of it."""
    from ticketdesk.store.schema import mail_outbox

    accepted = {r.message["Message-ID"]: r.wall for r in smtp.received}
    with engine.connect() as conn:
        rows = conn.execute(
            select(mail_outbox.c.message_id, mail_outbox.c.created_at).where(
                mail_outbox.c.id > since_id,
                mail_outbox.c.id <= (until_id if until_id is not None else 2**31 - 1),
            )
        ).all()
    return [accepted[m] - created.timestamp() for m, created in rows if m in accepted]


def wait_delivered(engine: Engine, timeout_s: float) -> int:
    """Until nothing is queued or being sent; returns how many still were at the timeout."""
    from ticketdesk.store.schema import mail_outbox

    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count()).where(mail_outbox.c.state.in_(["queued", "sending"]))
            ).scalar_one()
        if not left or time.monotonic() > deadline:
            return int(left)
        time.sleep(0.2)


def queued(engine: Engine) -> int:
    return wait_delivered(engine, 0)


def last_outbox_id(engine: Engine) -> int:
    from ticketdesk.store.schema import mail_outbox

    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(mail_outbox.c.id), 0))).scalar_one())


def queue_mails(engine: Engine, count: int) -> None:
    """`count` notifications straight into the outbox (as a burst of changes would)."""
    from ticketdesk.domain.mail import new_message_id
    from ticketdesk.store import mail as mail_store
    from ticketdesk.store.db import run_transaction

    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "message_id": new_message_id("bench.example"),
            "ticket_id": None,
            "kind": "filed",
            "recipient_id": None,
            "recipient": f"person{n}@example.com",
            "recipient_name": None,
            "subject": f"Bench notification {n}",
            "body_text": "A notification.\n",
            "body_html": "<p>A notification.</p>",
            "in_reply_to": None,
        }
        for n in range(count)
    ]
    run_transaction(engine, lambda conn: mail_store.queue(conn, rows, now))


def page_loads(browser: Browser, apps: list[Any], repeats: int) -> dict[str, list[float]]:
    """Page loads of the Tickets page (ours) and the trivial page, interleaved."""
    times: dict[str, list[float]] = {app.name: [] for app in apps}
    for _ in range(repeats):
        for app in apps:
            context, page = new_page(browser, app, TIMEOUT_S)
            try:
                path, want, _metrics = app.loads[0]
                marks = load(page, app.url(path), want, TIMEOUT_S)
                times[app.name].append(marks["grid"])
            finally:
                context.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--submits", type=int, default=10)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--backend", choices=tuple(BACKEND_NAMES), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TICKETDESK_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="default $TICKETDESK_BENCH_POSTGRES_URL or " + DEFAULT_POSTGRES_URL,
    )
    args = parser.parse_args(argv)
    from ticketdesk.store.db import make_engine

    started = dt.datetime.now(dt.UTC)
    state = git_state()  # the commit the snapshot is taken of (commits made meanwhile: not)
    take_snapshot()
    results: dict[str, Any] = {
        "commit": state[0] if state else "unknown",
        "tickets": args.tickets,
        "backend": args.backend,
        "started": started.isoformat(),
    }
    smtp = SmtpServer()
    smtp.start()
    gateway: subprocess.Popen[bytes] | None = None
    preparing = time.monotonic()
    with database(args.backend, args.tickets, args.postgres_url) as url:
        results["database_ready_s"] = time.monotonic() - preparing
        create_bench_account(url)
        engine = make_engine(url)
        apps_by_name = servers(url, smtp, args.tickets)
        apps = [a for a in make_apps(apps_by_name) if a.name in ("ours", "floor")]
        try:
            for started_app in apps:
                started_app.server.start(START_TIMEOUT_S)
            port = free_port()
            gateway_env = {**snapshot_env(), "TICKETDESK_MAIL_ADDRESS": DESK}
            gateway = subprocess.Popen(
                [
                    str(BIN / "ticketdesk"),
                    "--database-url",
                    url,
                    "mail-gateway",
                    "--port",
                    str(port),
                ],
                cwd=SNAPSHOT,
                env=gateway_env,
                stdout=(LOGS / f"mail-{args.tickets}-gateway.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                ours = next(a for a in apps if a.name == "ours")
                page_loads(browser, apps, 1)  # warm up, unmeasured
                first_id = last_outbox_id(engine)

                log(f"{args.submits} submits through the web form")
                context, page = new_page(browser, ours, TIMEOUT_S)
                load(page, ours.url(""), ["grid"], TIMEOUT_S)
                submits = []
                for _ in range(args.submits):
                    seconds, _marks = measure_submit(page, ours, TIMEOUT_S)
                    assert isinstance(seconds, float)
                    submits.append(seconds)
                    time.sleep(0.5)
                context.close()
                wait_delivered(engine, 60)
                after_submits = last_outbox_id(engine)

                log(f"{args.mails} mails through the gateway")
                _wait_port(port)
                per_mail = []
                with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT_S) as client:
                    for n in range(args.mails):
                        began = time.perf_counter()
                        client.sendmail(BENCH_EMAIL, [DESK], new_ticket_mail(n))
                        per_mail.append(time.perf_counter() - began)
                left = wait_delivered(engine, 300)
                results["submit_s"] = submits
                results["mail_s"] = per_mail
                results["delivery_delay_single_s"] = outbox_delays(
                    engine, smtp, first_id, after_submits
                )
                results["delivery_delay_s"] = outbox_delays(engine, smtp, after_submits)
                results["undelivered_after_5_min"] = left

                log(f"page loads: {args.loads} each with an idle outbox")
                idle = page_loads(browser, apps, args.loads)
                log(f"page loads: {args.loads} each while {args.queued} mails go out")
                smtp.handler.delay_s = 0.02
                queue_mails(engine, args.queued)
                busy_started = queued(engine)
                busy = page_loads(browser, apps, args.loads)
                busy_ended = queued(engine)
                smtp.handler.delay_s = 0.0
                results["loads_idle_s"] = idle
                results["loads_busy_s"] = busy
                results["queue_during_busy_loads"] = [busy_started, busy_ended]
                browser.close()
        finally:
            if gateway is not None:
                gateway.terminate()
                gateway.wait(timeout=30)
            for server in apps_by_name.values():
                server.stop()
            smtp.stop()
            engine.dispose()
    write(results, args, started)
    return 0


def _wait_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the mail gateway did not listen on {port}")


def write(results: dict[str, Any], args: argparse.Namespace, started: dt.datetime) -> None:
    med = statistics.median
    submit, mail = med(results["submit_s"]), med(results["mail_s"])
    delays = results["delivery_delay_s"]
    single = results["delivery_delay_single_s"]
    idle, busy = results["loads_idle_s"], results["loads_busy_s"]
    idle_ratio = med(idle["ours"]) / med(idle["floor"])
    busy_ratio = med(busy["ours"]) / med(busy["floor"])
    commit = str(results["commit"])[:7]
    backend = BACKEND_NAMES[args.backend]
    lines = [
        f"# Mail benchmark: {args.tickets:,} tickets on {backend}, {started:%Y-%m-%d} ({commit})",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| incoming mail, per mail (SMTP until stored), median of {len(results['mail_s'])} "
        f"| {mail * 1000:.1f} ms (p95 {percentile(results['mail_s'], 0.95) * 1000:.1f} ms) |",
        f"| web form submit (click until confirmed), median of {len(results['submit_s'])} "
        f"| {submit * 1000:.0f} ms |",
        f"| **mail ÷ web form** | **{mail / submit:.2f}** |",
        f"| outbox delivery delay of a single change (the web form's submits), p50 / p95 of "
        f"{len(single)} | {percentile(single, 0.5) * 1000:.0f} ms / "
        f"{percentile(single, 0.95) * 1000:.0f} ms |",
        f"| outbox delivery delay during the burst of incoming mails (one confirmation each), "
        f"p50 / p95 of {len(delays)} | {percentile(delays, 0.5) * 1000:.0f} ms / "
        f"{percentile(delays, 0.95) * 1000:.0f} ms |",
        f"| Tickets page load ÷ trivial page, outbox idle (medians of {len(idle['ours'])}) "
        f"| {idle_ratio:.2f} ({med(idle['ours']):.2f} s ÷ {med(idle['floor']):.2f} s) |",
        f"| the same while {args.queued:,} queued mails go out "
        f"| {busy_ratio:.2f} ({med(busy['ours']):.2f} s ÷ {med(busy['floor']):.2f} s) |",
        f"| **slowdown of the page by the worker** | **{busy_ratio / idle_ratio:.2f}** |",
        "",
        f"Mails still queued when the busy loads began and ended: "
        f"{results['queue_during_busy_loads'][0]:,} and {results['queue_during_busy_loads'][1]:,}"
        " (the worker was delivering throughout). Undelivered 5 minutes after the incoming "
        f"mails: {results['undelivered_after_5_min']}.",
        "",
        "The worker looks for due mail every second (one indexed read), so a single change's",
        "mail waits half a second on average before it is claimed. During the burst the",
        "confirmations queue behind each other: the gateway stores a mail every "
        f"{mail * 1000:.0f} ms",
        "while one worker delivers them one SMTP transaction at a time.",
        "",
        f"The {backend} database was ready (seeded, or the cached file copied and migrated) "
        f"in {results['database_ready_s']:.0f} s.",
    ]
    RESULTS.mkdir(exist_ok=True)
    stem = f"mail-{args.backend}-{args.tickets}-{started:%Y-%m-%d}-{commit}"
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(lines))
    log(f"written to bench/results/{stem}.md")


if __name__ == "__main__":
    sys.exit(main())
