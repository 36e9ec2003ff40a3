"""Command line: `ticketdesk migrate`, `ticketdesk create-admin --email E --name N`,
`ticketdesk seed-demo --count N`, `ticketdesk recount`, `ticketdesk files-gc`,
`ticketdesk outbox-prune`, `ticketdesk webhooks-worker`, and the mail processes:
`ticketdesk worker`, `ticketdesk mail-fetch`, `ticketdesk mail-gateway --host H --port P`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from tqdm import tqdm

from ticketdesk.domain import demo_histories
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.mail.fetch import Fetcher, FetchFailed
from ticketdesk.mail.gateway import start_gateway
from ticketdesk.mail.runner import start_mail_threads
from ticketdesk.services import accounts as account_service
from ticketdesk.services import demo as demo_service
from ticketdesk.services import files as file_service
from ticketdesk.services import outbox as outbox_service
from ticketdesk.services import webhook_worker
from ticketdesk.services import webhooks as webhook_service
from ticketdesk.store import projections
from ticketdesk.store.db import make_engine, migrate, run_transaction

from .config import (
    DEFAULT_OUTBOX_RETENTION_DAYS,
    MailConfig,
    database_url,
    mail_config,
    outbox_retention,
    redact,
    webhook_settings,
)


def build_parser() -> argparse.ArgumentParser:
    """The `ticketdesk` command's parser (tests/test_docs.py reads its sub-commands)."""
    parser = argparse.ArgumentParser(prog="ticketdesk", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL; default: $TICKETDESK_DATABASE_URL or the embedded SQLite file",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the Alembic migrations up to the latest")
    commands.add_parser("recount", help="rebuild the dashboard counters from tickets and events")
    admin = commands.add_parser(
        "create-admin", help="create an admin account (the first one, on a new desk)"
    )
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of generating one",
    )
    gc = commands.add_parser(
        "files-gc", help="delete stored files that no attachment refers to any more"
    )
    gc.add_argument(
        "--grace-minutes",
        type=int,
        default=60,
        help="leave files written in the last N minutes (uploads not yet committed); default 60",
    )
    prune = commands.add_parser(
        "outbox-prune",
        help="delete sent mail and delivered webhooks older than the retention (the workers "
        "do it every hour)",
    )
    prune.add_argument(
        "--days",
        type=int,
        default=None,
        help="keep the last N days (at least 1); default: $TICKETDESK_OUTBOX_RETENTION_DAYS "
        f"or {DEFAULT_OUTBOX_RETENTION_DAYS}",
    )
    seed = commands.add_parser("seed-demo", help="add N demo tickets with event histories")
    seed.add_argument("--count", type=int, default=100, help="how many tickets (default 100)")
    seed.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    seed.add_argument(
        "--span-days",
        type=int,
        default=demo_histories.DEFAULT_SPAN_DAYS,
        help="spread over this many days",
    )
    commands.add_parser(
        "webhooks-worker",
        help="deliver the queued webhook deliveries until stopped (Ctrl-C or SIGTERM)",
    )
    worker = commands.add_parser(
        "worker",
        help="deliver the outbox over SMTP and, with TICKETDESK_IMAP_URL, fetch mail (until "
        "stopped)",
    )
    worker.add_argument(
        "--poll-seconds",
        type=float,
        default=1.0,
        help="how often an idle worker looks for due mail (default 1)",
    )
    fetch = commands.add_parser(
        "mail-fetch", help="read the IMAP mailbox of TICKETDESK_IMAP_URL into tickets"
    )
    fetch.add_argument(
        "--once", action="store_true", help="read what is there now, then end (no IDLE)"
    )
    gateway = commands.add_parser(
        "mail-gateway", help="receive the desk's mail by SMTP (or LMTP) and file it"
    )
    gateway.add_argument("--host", default="127.0.0.1", help="address to listen on")
    gateway.add_argument("--port", type=int, default=2525, help="port to listen on")
    gateway.add_argument("--lmtp", action="store_true", help="speak LMTP instead of SMTP")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    url = args.database_url or database_url()
    if args.command == "worker":
        return run_worker(url, args.poll_seconds)
    if args.command == "mail-fetch":
        return run_fetch(url, args.once)
    if args.command == "mail-gateway":
        return run_gateway(url, args.host, args.port, args.lmtp)
    engine = make_engine(url)
    try:
        migrate(engine)
        if args.command == "migrate":
            print(f"Schema is up to date in {redact(url)}")
        elif args.command == "recount":
            run_transaction(engine, projections.rebuild)
            print(f"Counters rebuilt in {redact(url)}")
        elif args.command == "create-admin":
            create_admin(engine, args.email, args.name, args.password_stdin)
        elif args.command == "files-gc":
            if args.grace_minutes < 0:
                parser.error("--grace-minutes cannot be negative")
            at, grace = datetime.now(UTC), timedelta(minutes=args.grace_minutes)
            gone = file_service.collect_garbage(engine, at, grace=grace)
            print(f"Deleted {len(gone)} stored file(s) that no attachment refers to")
            partial = file_service.sweep_partial_writes(engine, at, grace=grace)
            if partial:
                print(f"Deleted {partial} unfinished upload(s) left by interrupted writes")
        elif args.command == "outbox-prune":
            if args.days is not None and args.days < 1:
                parser.error("--days must be at least 1")
            return prune_outboxes(engine, args.days)
        elif args.command == "webhooks-worker":
            run_webhooks_worker(engine)
        elif args.command == "seed-demo":
            if args.count < 1:
                parser.error("--count must be at least 1")
            accounts = demo_service.demo_accounts_for_new_desk(engine, datetime.now(UTC))
            if accounts:
                print(demo_service.describe_accounts(accounts))
            started = time.perf_counter()
            with tqdm(total=args.count, unit="ticket", unit_scale=True) as bar:
                made = demo_service.seed_demo(
                    engine,
                    args.count,
                    datetime.now(UTC),
                    seed=args.seed,
                    span_days=args.span_days,
                    progress=bar.update,
                    worker_process=True,
                )
            took = time.perf_counter() - started
            print(f"Added {made:,} demo tickets to {redact(url)} in {took:.1f} s")
    except TicketDeskError as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def create_admin(engine: Engine, email: str, name: str, password_from_stdin: bool) -> None:
    """Make an admin account. Without --password-stdin a password is generated and printed
    once (nothing fixed, nothing in the shell history)."""
    generated = not password_from_stdin
    password = (
        account_service.generate_password() if generated else sys.stdin.readline().rstrip("\n")
    )
    now = datetime.now(UTC)
    account = account_service.create_account(engine, None, email, name, "admin", password, now)
    print(f"Admin account created: {account.name} <{account.email}>")
    if generated:
        print(f"Password (shown once; change it after signing in): {password}")


def prune_outboxes(engine: Engine, days: int | None) -> int:
    """`ticketdesk outbox-prune`: what the workers do every hour, now. Queued, failed and
    pending rows are never deleted; sent mail's Message-IDs stay for threading."""
    try:
        keep = timedelta(days=days) if days is not None else outbox_retention()
    except ValueError as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr)
        return 2
    if keep is None:
        print("TICKETDESK_OUTBOX_RETENTION_DAYS is 0: the outboxes are kept whole; nothing pruned")
        return 0
    now = datetime.now(UTC)
    mails = outbox_service.prune_sent(engine, now, keep)
    deliveries = webhook_service.prune_delivered(engine, now, keep)
    print(
        f"Deleted {mails} sent mail(s) and {deliveries} delivered webhook(s) older than "
        f"{keep.days} day(s)"
    )
    return 0


def run_webhooks_worker(engine: Engine) -> None:
    """Deliver webhooks until SIGINT or SIGTERM (which finish the delivery under way)."""
    settings = webhook_settings()
    stop = threading.Event()
    _until_signalled(stop)
    print(
        f"Delivering webhooks (timeout {settings.timeout_s:g} s, first retry after "
        f"{settings.retry_base_s:g} s); stop with Ctrl-C",
        flush=True,
    )
    webhook_worker.run(engine, settings, stop)


def _mail_settings() -> MailConfig | None:
    try:
        return mail_config()
    except ValueError as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr)
        return None


def _until_signalled(stop: threading.Event) -> None:
    """SIGTERM and SIGINT (Ctrl-C) set `stop`: the work under way (a mail, a webhook
    delivery) is finished, then the command ends."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())


def run_worker(url: str, poll_seconds: float) -> int:
    """`ticketdesk worker`: the outbox worker (and the IMAP fetcher) until SIGTERM/Ctrl-C."""
    config = _mail_settings()
    if config is None:
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    engine = make_engine(url)
    try:
        migrate(engine)
        running = start_mail_threads(lambda: engine, config, poll_seconds=poll_seconds)
        _until_signalled(running.stop)
        sending = config.smtp.redacted() if config.smtp else "nowhere (no TICKETDESK_SMTP_URL)"
        fetching = config.imap.redacted() if config.imap else "nothing (no TICKETDESK_IMAP_URL)"
        print(
            f"ticketdesk worker on {redact(url)}: sending to {sending}, fetching {fetching}",
            flush=True,
        )
        running.wait()
    except TicketDeskError as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def run_fetch(url: str, once: bool) -> int:
    """`ticketdesk mail-fetch`: the mailbox into tickets, until SIGTERM/Ctrl-C (or once)."""
    config = _mail_settings()
    if config is None:
        return 2
    if config.imap is None:
        print("ticketdesk: set TICKETDESK_IMAP_URL to the mailbox to read", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    engine = make_engine(url)
    try:
        migrate(engine)
        fetcher = Fetcher(engine, config)
        if once:
            handled = fetcher.fetch_once()
            print(f"Read {handled} mail(s) from {config.imap.redacted()}")
            return 0
        stop = threading.Event()
        _until_signalled(stop)
        fetcher.run(stop)
    except (FetchFailed, TicketDeskError) as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


def run_gateway(url: str, host: str, port: int, lmtp: bool) -> int:
    """`ticketdesk mail-gateway`: receive mail on host:port until SIGTERM/Ctrl-C."""
    config = _mail_settings()
    if config is None:
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    engine = make_engine(url)
    try:
        migrate(engine)
        try:
            controller = start_gateway(engine, config, host, port, lmtp)
        except (OSError, RuntimeError) as exc:
            print(f"ticketdesk: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
            return 1
        stop = threading.Event()
        _until_signalled(stop)
        kind = "LMTP" if lmtp else "SMTP"
        print(f"ticketdesk mail-gateway: {kind} on {host}:{port} for {config.address}", flush=True)
        while not stop.wait(1.0):
            pass
        controller.stop()
    except TicketDeskError as exc:
        print(f"ticketdesk: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
