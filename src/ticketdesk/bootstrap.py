"""Make a database ready for the app: schema up to date, demo tickets in a new one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from . import demo, storage
from .db import migrate, read


def prepare(engine: Engine, now: datetime, demo_tickets: int) -> None:
    """Apply migrations; seed `demo_tickets` demo tickets if the database holds none."""
    migrate(engine)
    if demo_tickets and read(engine, storage.count_tickets) == 0:
        demo.seed_demo(engine, demo_tickets, now)
