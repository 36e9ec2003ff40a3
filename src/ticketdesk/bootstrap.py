"""Make a database ready for the app: schema up to date, demo tickets in a new one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from . import demo, storage
from .db import migrate, read

DEMO_TICKETS_ON_FIRST_START = 100


def prepare(engine: Engine, now: datetime, demo_tickets: int = DEMO_TICKETS_ON_FIRST_START) -> None:
    """Apply migrations; seed `demo_tickets` demo tickets if the database holds none."""
    migrate(engine)
    if demo_tickets and read(engine, storage.count_tickets) == 0:
        demo.seed_demo(engine, demo_tickets, now)
