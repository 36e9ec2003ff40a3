"""A writer for the kill test: files tickets and edits them in a loop, printing each one only
after its transaction committed ("acknowledged"), until it is killed."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

from ticketdesk.domain.tickets import TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.db import make_engine


def main(url: str, tag: str) -> None:
    engine = make_engine(url)
    # This writer's own agent account (one per run; `tag` differs between runs).
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
    agent = account_service.create_account(
        engine,
        None,
        f"writer-{slug}@example.com",
        f"Writer {tag}",
        "agent",
        None,
        datetime.now(UTC),
    )
    n = 0
    while True:
        n += 1
        ticket = ticket_service.create_ticket(
            engine, agent, f"{tag} ticket {n}", "Medium", datetime.now(UTC)
        )
        print(f"created {ticket.id}", flush=True)
        edited = ticket_service.update_ticket(
            engine, agent, ticket.id, TicketChange(status="In Progress"), datetime.now(UTC)
        )
        print(f"edited {edited.id} {edited.version}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
