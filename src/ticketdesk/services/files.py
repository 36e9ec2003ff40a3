"""Attachments: storing uploads before the transaction that records them, serving a file to
whoever may read its message, an admin's removal, and the sweep of orphan blobs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from ticketdesk.config import files_location
from ticketdesk.domain import tickets as rules
from ticketdesk.domain.accounts import Account, Action, require
from ticketdesk.domain.errors import FileNotFound, FileStoreUnavailable
from ticketdesk.domain.files import (
    MAX_FILE_BYTES,
    MAX_MESSAGE_BYTES,
    Attachment,
    NewAttachment,
    Upload,
    check_uploads,
    safe_name,
    too_large,
    too_much,
)
from ticketdesk.queries import files as file_reads
from ticketdesk.store import tickets as ticket_store
from ticketdesk.store.db import read, run_transaction
from ticketdesk.store.files import BlobStore, FileTooLarge, detect_type, open_store, referenced

NOT_FOUND = "That file does not exist or is not one you may open."
GC_GRACE = timedelta(hours=1)
"""files-gc leaves blobs younger than this: they may belong to an upload whose transaction
has not committed yet."""


def file_store(engine: Engine) -> BlobStore:
    """The file store configured for the desk on `engine` (config.files_location)."""
    return open_store(files_location(engine.url.render_as_string(hide_password=False)))


def store_uploads(
    store: BlobStore,
    uploads: Sequence[Upload],
    file_limit: int = MAX_FILE_BYTES,
    message_limit: int = MAX_MESSAGE_BYTES,
) -> tuple[NewAttachment, ...]:
    """Write each upload's blob (before the transaction that will name it) and return what
    to record. A file over the limit refuses the whole message (ValidationError); blobs of
    the files before it stay behind unreferenced, for files-gc. A store that cannot be
    written (a full disk, S3 away) is FileStoreUnavailable: nothing is recorded."""
    check_uploads(list(uploads))
    stored: list[NewAttachment] = []
    total = 0
    for upload in uploads:
        limit = min(file_limit, message_limit - total)
        try:
            blob = store.put(upload.stream, limit)
        except FileTooLarge:
            refusal = (
                too_large(upload.name, file_limit)
                if limit == file_limit
                else too_much(message_limit)
            )
            raise refusal from None
        except Exception as exc:  # OSError from a directory, botocore's errors from S3
            raise FileStoreUnavailable(
                f"The files cannot be stored right now ({type(exc).__name__}: "
                f"{str(exc)[:200]}). Nothing was saved; try again later."
            ) from exc
        total += blob.size
        stored.append(
            NewAttachment(blob.sha256, safe_name(upload.name), blob.size, detect_type(blob.head))
        )
    return tuple(stored)


@dataclass(frozen=True)
class FileToServe:
    attachment: Attachment
    store: BlobStore

    def chunks(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.store.read(self.attachment.sha256, start, end)


def open_file(
    engine: Engine, by: Account, attachment_id: int, store: BlobStore | None = None
) -> FileToServe:
    """A file for `by`, if they may read the message (or ticket) it belongs to: staff any;
    a requester only those of their own tickets, never an internal note's. Anything else is
    FileNotFound, the same as for a file that does not exist."""

    def work(conn: Connection) -> file_reads.AttachmentAccess | None:
        return file_reads.attachment(conn, attachment_id)

    found = read(engine, work)
    if found is None:
        raise FileNotFound(NOT_FOUND)
    if not by.may(Action.VIEW_ANY_TICKET):
        if not by.may(Action.VIEW_OWN_TICKET) or found.requester_id != by.id or found.internal:
            raise FileNotFound(NOT_FOUND)
    elif found.internal and not by.may(Action.READ_NOTES):
        raise FileNotFound(NOT_FOUND)
    return FileToServe(found.attachment, store or file_store(engine))


def remove_file(
    engine: Engine, by: Account, attachment_id: int, now: datetime, store: BlobStore | None = None
) -> Attachment:
    """Remove one attachment (admins): its row goes, the ticket's history records who removed
    which name, and its blob goes too once no other attachment names the same content."""
    require(by, Action.REMOVE_FILE)

    def work(conn: Connection) -> Attachment:
        found = file_reads.attachment(conn, attachment_id)
        if found is None:
            raise FileNotFound(NOT_FOUND)
        file = found.attachment
        current = ticket_store.get_ticket(conn, file.ticket_id, for_update=True)
        assert current is not None  # attachments go with their ticket
        outcome = rules.remove_file(current, file.id, file.name, found.internal)
        saved = ticket_store.save(conn, current, outcome, by, now)
        assert saved is not None  # `current` is locked in this transaction
        return file

    removed = run_transaction(engine, work)
    delete_unreferenced(engine, store or file_store(engine), [removed.sha256])
    return removed


def delete_unreferenced(engine: Engine, store: BlobStore, digests: Sequence[str]) -> list[str]:
    """Delete the blobs of `digests` that no attachment names (after the transaction that
    removed the last one has committed); returns those deleted."""
    still = read(engine, lambda conn: referenced(conn, digests))
    gone = [d for d in dict.fromkeys(digests) if d not in still]
    for digest in gone:
        store.delete(digest)
    return gone


def collect_garbage(
    engine: Engine, now: datetime, store: BlobStore | None = None, grace: timedelta = GC_GRACE
) -> list[str]:
    """`ticketdesk files-gc`: delete every blob no attachment names that was written more
    than `grace` ago (younger ones may be uploads about to be committed). Returns them."""
    store = store or file_store(engine)
    old = [digest for digest, written in store.blobs() if written <= now - grace]
    return delete_unreferenced(engine, store, old)


def sweep_partial_writes(
    engine: Engine, now: datetime, store: BlobStore | None = None, grace: timedelta = GC_GRACE
) -> int:
    """`ticketdesk files-gc` too: remove what writes killed half-way left (a temporary file,
    an unfinished multipart upload) begun more than `grace` ago. Returns how many."""
    return (store or file_store(engine)).sweep_partial(now - grace)
