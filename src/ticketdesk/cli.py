"""Command line: `ticketdesk migrate`, `ticketdesk create-admin --email E --name N`,
`ticketdesk seed-demo --count N`, `ticketdesk recount`, `ticketdesk files-gc`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from tqdm import tqdm

from ticketdesk.domain import demo_histories
from ticketdesk.domain.errors import TicketDeskError
from ticketdesk.services import accounts as account_service
from ticketdesk.services import demo as demo_service
from ticketdesk.services import files as file_service
from ticketdesk.store import projections
from ticketdesk.store.db import make_engine, migrate, run_transaction

from .config import database_url, redact


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
    seed = commands.add_parser("seed-demo", help="add N demo tickets with event histories")
    seed.add_argument("--count", type=int, default=100, help="how many tickets (default 100)")
    seed.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")
    seed.add_argument(
        "--span-days",
        type=int,
        default=demo_histories.DEFAULT_SPAN_DAYS,
        help="spread over this many days",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    url = args.database_url or database_url()
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


if __name__ == "__main__":
    sys.exit(main())
