"""Make a database ready for the app: schema up to date, demo data in a new one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from ticketdesk.domain.accounts import Account
from ticketdesk.queries import tickets as ticket_reads
from ticketdesk.services import demo as demo_service
from ticketdesk.store.db import migrate, read, setup_lock


def prepare(engine: Engine, now: datetime, demo_tickets: int) -> list[tuple[Account, str]]:
    """Apply migrations; into a database without tickets or accounts, put `demo_tickets` demo
    tickets and the demo accounts. Returns the accounts made with their one-time passwords.
    Servers started together take turns (setup_lock): one seeds, the others find it done."""
    with setup_lock(engine):
        migrate(engine)
        if not demo_tickets or read(engine, ticket_reads.count_tickets):
            return []
        made = demo_service.demo_accounts_for_new_desk(engine, now)
        demo_service.seed_demo(engine, demo_tickets, now)
        return made
