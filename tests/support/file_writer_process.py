"""A writer for the attachments kill test: files tickets with attachments and replies with
attachments in a loop, in the desk's configured file store (TICKETDESK_FILES_DIR, or
TICKETDESK_FILES_URL with the AWS_* variables of a local S3 server), printing each write only
after its transaction committed ("acknowledged"), until it is killed.

Each write stores a fresh blob of a few hundred KB (written and fsynced before the
transaction that records it) and one shared blob (the same content every time: de-duplicated),
so a kill lands between blob and commit often.

    file_writer_process.py <database url> <tag> [loop|hang]

`hang`: file one ticket, then start a note whose file's blob is put in the store, print
"put <digest>" and wait there, before the note's transaction, to be killed: a crash exactly
between a blob's write and the commit that would name it."""

from __future__ import annotations

import io
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from ticketdesk.domain.files import Upload
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.files import file_store
from ticketdesk.store.db import make_engine
from ticketdesk.store.files import BlobStore, Stored

SHARED = b"the same log every time\n" * 2000


def fresh() -> Upload:
    return Upload("fresh.bin", io.BytesIO(os.urandom(300_000)))


class HangAfterPut:
    """`inner`, but after a blob is put (and claimed) it says so and waits to be killed."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner

    def put(
        self, stream: BinaryIO, limit: int, claim: Callable[[str], None] | None = None
    ) -> Stored:
        blob = self.inner.put(stream, limit, claim)
        print(f"put {blob.sha256}", flush=True)
        time.sleep(600)
        raise SystemExit("not killed")

    def size(self, sha256: str) -> int | None:
        return self.inner.size(sha256)

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.inner.read(sha256, start, end)

    def delete(self, sha256: str) -> None:
        self.inner.delete(sha256)

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        return self.inner.blobs()

    def sweep_partial(self, before: datetime) -> int:
        return self.inner.sweep_partial(before)


def main(url: str, tag: str, mode: str) -> None:
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
        store = HangAfterPut(file_store(engine)) if mode == "hang" else None
        ticket_service.add_message(
            engine, agent, ticket.id, "note", f"note {n}", datetime.now(UTC), [fresh()], store
        )
        print(f"noted {ticket.id}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "loop")
