"""A writer for the attachments kill test: files tickets with attachments and replies with
attachments in a loop, in the desk's configured file store (TICKETDESK_FILES_DIR), printing
each write only after its transaction committed ("acknowledged"), until it is killed.

Each write stores a fresh blob of a few hundred KB (written and fsynced before the
transaction that records it) and one shared blob (the same content every time: de-duplicated),
so a kill lands between blob and commit often."""

from __future__ import annotations

import io
import os
import re
import sys
from datetime import UTC, datetime

from ticketdesk.domain.files import Upload
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.db import make_engine

SHARED = b"the same log every time\n" * 2000


def fresh() -> Upload:
    return Upload("fresh.bin", io.BytesIO(os.urandom(300_000)))


def main(url: str, tag: str) -> None:
    engine = make_engine(url)
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
    agent = account_service.create_account(
        engine, None, f"files-{slug}@example.com", f"Files {tag}", "agent", None, datetime.now(UTC)
    )
    n = 0
    while True:
        n += 1
        ticket = ticket_service.create_ticket(
            engine,
            agent,
            f"{tag} ticket {n}",
            "Low",
            datetime.now(UTC),
            [fresh(), Upload("shared.log", io.BytesIO(SHARED))],
        )
        print(f"created {ticket.id}", flush=True)
        ticket_service.add_message(
            engine, agent, ticket.id, "note", f"note {n}", datetime.now(UTC), [fresh()]
        )
        print(f"noted {ticket.id}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
