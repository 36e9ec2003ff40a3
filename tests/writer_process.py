"""A writer for the kill test: files tickets and edits them in a loop, printing each one only
after its transaction committed ("acknowledged"), until it is killed."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from ticketdesk import services
from ticketdesk.db import make_engine
from ticketdesk.domain import TicketChange


def main(url: str, tag: str) -> None:
    engine = make_engine(url)
    n = 0
    while True:
        n += 1
        ticket = services.create_ticket(engine, f"{tag} ticket {n}", "Medium", datetime.now(UTC))
        print(f"created {ticket.id}", flush=True)
        edited = services.update_ticket(
            engine, ticket.id, TicketChange(status="In Progress"), datetime.now(UTC)
        )
        print(f"edited {edited.id} {edited.version}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
