"""An upload of content X racing an admin's removal of the last other file with content X
(whose removal deletes blob X): a committed message never names a deleted blob.

The attachment is content-addressed: an upload writes (or finds) blob X before the transaction
that records it, and a removal deletes X once no row names it. Each race is forced at the
moment that matters (tests/support/blob_stores.Interleaved), on both databases and both stores:
the removal lands between the upload's blob and its commit (before the fix the reply's row
named a deleted blob); the upload arrives while the removal is deleting X (two threads: the
upload's claim waits for the deletion's lock); files-gc deletes X under an upload slower than
the grace period (the save is refused); a deletion fails after deleting X (the next upload
puts it back). The design is in docs/operations.md ("Attachments")."""

from __future__ import annotations

import hashlib
import io
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from tests.support.blob_stores import Interleaved, stored
from ticketdesk.domain.accounts import Account
from ticketdesk.domain.errors import UploadLost
from ticketdesk.domain.files import Attachment, Upload
from ticketdesk.services import files as file_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.files import BlobStore
from ticketdesk.store.schema import attachments

LOG = b"".join(b"%05d: disk full\n" % n for n in range(20000))


def up(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


def every_row_has_its_blob(engine: Engine, store: BlobStore) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(attachments.c.name, attachments.c.sha256, attachments.c.size))
        missing = [
            (r.name, store.size(r.sha256), r.size) for r in rows if store.size(r.sha256) != r.size
        ]
    assert missing == []


def whole(engine: Engine, by: Account, file: Attachment, store: BlobStore) -> bytes:
    return b"".join(file_service.open_file(engine, by, file.id, store).chunks())


def test_a_removal_between_an_uploads_blob_and_its_commit_leaves_the_blob(
    engine: Engine,
    blob_store: BlobStore,
    requester: Account,
    agent: Account,
    admin: Account,
    now: datetime,
) -> None:
    ticket = ticket_service.create_ticket(
        engine, requester, "Crash", "Low", now, [up("first.log", LOG)], blob_store
    )
    (first,) = ticket_service.ticket_detail(engine, admin, ticket.code).attachments
    removed: list[Attachment] = []

    def admin_removes_the_first(digest: str) -> None:
        if not removed:
            removed.append(file_service.remove_file(engine, admin, first.id, now, blob_store))

    racing = Interleaved(blob_store, after_put=admin_removes_the_first)
    ticket_service.add_message(
        engine, agent, ticket.id, "reply", "Same log?", now, [up("again.log", LOG)], racing
    )
    assert [f.id for f in removed] == [first.id]  # removed while the reply was being saved
    every_row_has_its_blob(engine, blob_store)
    (again,) = ticket_service.ticket_detail(engine, admin, ticket.code).attachments
    assert again.name == "again.log"
    assert whole(engine, agent, again, blob_store) == LOG
    # Its removal, with no upload of X in flight, deletes the blob at once.
    file_service.remove_file(engine, admin, again.id, now, blob_store)
    assert stored(blob_store) == set()


def test_an_upload_arriving_while_the_blob_is_being_deleted_is_stored_again(
    engine: Engine,
    blob_store: BlobStore,
    requester: Account,
    agent: Account,
    admin: Account,
    now: datetime,
) -> None:
    ticket = ticket_service.create_ticket(
        engine, requester, "Crash", "Low", now, [up("first.log", LOG)], blob_store
    )
    (first,) = ticket_service.ticket_detail(engine, admin, ticket.code).attachments
    deleting, release, placed = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold(digest: str) -> None:
        deleting.set()
        assert release.wait(60)

    def remove() -> None:
        try:
            file_service.remove_file(
                engine, admin, first.id, now, Interleaved(blob_store, on_delete=hold)
            )
        except BaseException as exc:  # reported by the test below
            failures.append(exc)

    def upload() -> None:
        try:
            ticket_service.add_message(
                engine,
                agent,
                ticket.id,
                "reply",
                "Same log?",
                now,
                [up("again.log", LOG)],
                Interleaved(blob_store, after_put=lambda digest: placed.set()),
            )
        except BaseException as exc:
            failures.append(exc)

    remover = threading.Thread(target=remove)
    remover.start()
    assert deleting.wait(60)  # the removal is about to delete blob X
    uploader = threading.Thread(target=upload)
    uploader.start()
    # Without a lock the upload finds X and goes on now; with one it waits for the deletion.
    placed.wait(2)
    release.set()
    remover.join(60)
    uploader.join(60)
    assert failures == []
    every_row_has_its_blob(engine, blob_store)
    (again,) = ticket_service.ticket_detail(engine, admin, ticket.code).attachments
    assert whole(engine, agent, again, blob_store) == LOG


def test_an_upload_slower_than_the_grace_period_loses_its_blob_and_saves_nothing(
    engine: Engine, blob_store: BlobStore, requester: Account, agent: Account, now: datetime
) -> None:
    """files-gc two hours later (the claim stale) deletes the blob between an upload's put
    and its commit: the save is refused, nothing names the deleted blob."""
    ticket = ticket_service.create_ticket(engine, requester, "Crash", "Low", now)
    swept: list[str] = []

    def files_gc_two_hours_later(digest: str) -> None:
        later = datetime.now(UTC) + timedelta(hours=2)
        swept.extend(file_service.collect_garbage(engine, later, blob_store))

    slow = Interleaved(blob_store, after_put=files_gc_two_hours_later)
    with pytest.raises(UploadLost, match="Nothing was saved"):
        ticket_service.add_message(
            engine, agent, ticket.id, "reply", "Same log?", now, [up("slow.log", LOG)], slow
        )
    assert swept == [hashlib.sha256(LOG).hexdigest()]
    detail = ticket_service.ticket_detail(engine, agent, ticket.code)
    assert (detail.messages, detail.attachments) == ([], [])
    every_row_has_its_blob(engine, blob_store)


def test_a_deletion_that_fails_after_deleting_the_blob_leaves_it_to_the_next_upload(
    engine: Engine,
    blob_store: BlobStore,
    requester: Account,
    agent: Account,
    admin: Account,
    now: datetime,
) -> None:
    """The blob is deleted inside the deletion's transaction; if that then fails, the row
    stays without its blob (nothing names it), and the next upload of it puts it back."""
    ticket = ticket_service.create_ticket(
        engine, requester, "Crash", "Low", now, [up("first.log", LOG)], blob_store
    )
    (first,) = ticket_service.ticket_detail(engine, admin, ticket.code).attachments

    def delete_then_fail(digest: str) -> None:
        blob_store.delete(digest)
        raise ConnectionError("the database went away")

    failing = Interleaved(blob_store, on_delete=delete_then_fail)
    with pytest.raises(ConnectionError):
        file_service.remove_file(engine, admin, first.id, now, failing)
    assert stored(blob_store) == set()
    ticket_service.add_message(
        engine, agent, ticket.id, "reply", "Same log?", now, [up("again.log", LOG)], blob_store
    )
    every_row_has_its_blob(engine, blob_store)
    (again,) = ticket_service.ticket_detail(engine, admin, ticket.code).attachments
    assert whole(engine, agent, again, blob_store) == LOG
