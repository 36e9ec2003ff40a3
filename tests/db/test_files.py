"""Attachments against real databases and real file stores (a directory, and a local S3
server: moto in server mode, tests/support/s3.py): byte-for-byte round trips, one blob per
distinct content, removal with reference counting and history, who may open which file, the
limits, and a failed write that leaves an orphan blob (swept) but never a dangling row."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from tests.support.blob_stores import stored
from ticketdesk.domain.accounts import Account, PermissionDenied
from ticketdesk.domain.errors import FileNotFound, TicketNotFound, ValidationError
from ticketdesk.domain.files import MAX_FILE_BYTES, Upload
from ticketdesk.services import files as file_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.files import BlobStore, DirectoryStore, S3Store
from ticketdesk.store.schema import attachments

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # PNG's signature, then anything
LOG = "".join(f"line {n}: all fine\n" for n in range(5000)).encode()
BIG = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, not a multiple of the chunk size


def up(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


def whole(engine: Engine, by: Account, file_id: int, store: BlobStore | None = None) -> bytes:
    return b"".join(file_service.open_file(engine, by, file_id, store).chunks())


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(attachments)).scalar_one())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_files_round_trip_byte_for_byte_and_the_same_content_is_stored_once(
    engine: Engine, blob_store: BlobStore, requester: Account, agent: Account, now: datetime
) -> None:
    ticket = ticket_service.create_ticket(
        engine,
        requester,
        "Printer on fire",
        "High",
        now,
        [up("shot.png", PNG), up("printer.log", LOG), up("dump.bin", BIG)],
        blob_store,
    )
    ticket_service.add_message(
        engine, agent, ticket.id, "reply", "Same log?", now, [up("again.log", LOG)], blob_store
    )
    detail = ticket_service.ticket_detail(engine, agent, ticket.code)
    own = detail.files_of(None)
    assert [(a.name, a.size, a.content_type) for a in own] == [
        ("shot.png", len(PNG), "image/png"),
        ("printer.log", len(LOG), "text/plain"),
        ("dump.bin", len(BIG), "application/octet-stream"),
    ]
    reply_files = detail.files_of(detail.messages[0].id)
    assert [a.name for a in reply_files] == ["again.log"]
    assert stored(blob_store) == {sha(PNG), sha(LOG), sha(BIG)}  # the log once
    for file, data in zip([*own, *reply_files], [PNG, LOG, BIG, LOG], strict=True):
        assert whole(engine, agent, file.id, blob_store) == data
    part = b"".join(blob_store.read(sha(BIG), 1_000_000, 2_999_999))
    assert part == BIG[1_000_000:3_000_000]


def test_removing_a_file_keeps_the_blob_while_another_message_names_it(
    engine: Engine,
    blob_store: BlobStore,
    requester: Account,
    admin: Account,
    agent: Account,
    now: datetime,
) -> None:
    ticket = ticket_service.create_ticket(
        engine, requester, "Crash", "Low", now, [up("a.log", LOG)], blob_store
    )
    ticket_service.add_message(
        engine, requester, ticket.id, "message", "again", now, [up("b.log", LOG)], blob_store
    )
    first, second = ticket_service.ticket_detail(engine, admin, ticket.code).attachments
    with pytest.raises(PermissionDenied):
        file_service.remove_file(engine, agent, first.id, now, blob_store)
    file_service.remove_file(engine, admin, first.id, now, blob_store)
    assert stored(blob_store) == {sha(LOG)}
    assert whole(engine, agent, second.id, blob_store) == LOG
    with pytest.raises(FileNotFound):
        file_service.open_file(engine, agent, first.id, blob_store)
    file_service.remove_file(engine, admin, second.id, now, blob_store)
    assert stored(blob_store) == set()
    assert rows(engine) == 0
    history = ticket_service.ticket_detail(engine, requester, ticket.code).history
    described = [c.describe() for c in history if c.kind == "file_removed"]
    assert described == [
        f"{admin.name} removed the file a.log",
        f"{admin.name} removed the file b.log",
    ]


def test_who_may_open_which_file(
    engine: Engine,
    blob_store: BlobStore,
    requester: Account,
    other_requester: Account,
    agent: Account,
    admin: Account,
    now: datetime,
) -> None:
    ticket = ticket_service.create_ticket(
        engine, requester, "Help", "Low", now, [up("own.log", LOG)], blob_store
    )
    ticket_service.add_message(
        engine, agent, ticket.id, "reply", "see", now, [up("reply.png", PNG)], blob_store
    )
    ticket_service.add_message(
        engine, agent, ticket.id, "note", "secret", now, [up("note.log", b"pw=1")], blob_store
    )
    own, reply, note = ticket_service.ticket_detail(engine, agent, ticket.code).attachments
    assert whole(engine, requester, own.id, blob_store) == LOG
    assert whole(engine, requester, reply.id, blob_store) == PNG
    seen = ticket_service.ticket_detail(engine, requester, ticket.code).attachments
    assert [a.name for a in seen] == ["own.log", "reply.png"]
    refusals = [(requester, note.id), (other_requester, own.id), (other_requester, reply.id)]
    refusals.append((requester, note.id + 1000))  # no such file: the same answer
    for who, file_id in refusals:
        with pytest.raises(FileNotFound) as refused:
            file_service.open_file(engine, who, file_id)
        assert str(refused.value) == file_service.NOT_FOUND
    for who in (agent, admin):
        assert whole(engine, who, note.id, blob_store) == b"pw=1"
    # The removal of a note's file stays out of the requester's history.
    file_service.remove_file(engine, admin, note.id, now, blob_store)
    kinds = [c.kind for c in ticket_service.ticket_detail(engine, requester, ticket.code).history]
    assert "file_removed" not in kinds
    staff_kinds = [c.kind for c in ticket_service.ticket_detail(engine, agent, ticket.code).history]
    assert "file_removed" in staff_kinds


def test_a_failed_write_leaves_an_orphan_blob_that_files_gc_sweeps(
    engine: Engine, blob_store: BlobStore, requester: Account, agent: Account, now: datetime
) -> None:
    kept = ticket_service.create_ticket(
        engine, requester, "Kept", "Low", now, [up("kept.png", PNG)], blob_store
    )
    # The blob is written first; the transaction then fails (no such ticket).
    with pytest.raises(TicketNotFound):
        ticket_service.add_message(
            engine, agent, kept.id + 99, "reply", "x", now, [up("lost.log", LOG)], blob_store
        )
    assert rows(engine) == 1
    assert stored(blob_store) == {sha(PNG), sha(LOG)}
    # Within the grace period an orphan may be an upload about to commit: left alone. (The
    # blobs' times are the clock's, not the test's `now`.)
    clock = datetime.now(UTC)
    young = file_service.collect_garbage(engine, clock, blob_store, grace=timedelta(hours=1))
    assert young == []
    swept = file_service.collect_garbage(engine, clock + timedelta(hours=2), blob_store)
    assert swept == [sha(LOG)]
    assert stored(blob_store) == {sha(PNG)}
    (file,) = ticket_service.ticket_detail(engine, agent, kept.code).attachments
    assert whole(engine, agent, file.id, blob_store) == PNG


def test_files_gc_removes_what_a_write_killed_half_way_left(
    engine: Engine, blob_store: BlobStore
) -> None:
    """A kill inside a blob write leaves a temporary file (directory) or an unfinished
    multipart upload (S3); files-gc removes it once it is older than the grace period."""
    if isinstance(blob_store, DirectoryStore):
        (blob_store.root / "tmp").mkdir(parents=True)
        (blob_store.root / "tmp" / "tmpkilled").write_bytes(b"half a blob")
    else:
        assert isinstance(blob_store, S3Store)
        blob_store.client.create_multipart_upload(
            Bucket=blob_store.bucket, Key=f"{blob_store.prefix}/{sha(b'half')}"
        )
    clock = datetime.now(UTC)
    if isinstance(blob_store, DirectoryStore):  # (moto dates every multipart upload 2010)
        young = file_service.sweep_partial_writes(engine, clock, blob_store, timedelta(hours=1))
        assert young == 0
    later = clock + timedelta(hours=2)
    assert file_service.sweep_partial_writes(engine, later, blob_store) == 1
    assert file_service.sweep_partial_writes(engine, later, blob_store) == 0


def test_limits_refuse_the_whole_message_with_a_clear_reason(
    engine: Engine, tmp_path: Path, requester: Account, now: datetime
) -> None:
    store = DirectoryStore(tmp_path / "files")
    with pytest.raises(ValidationError, match=r"larger than 1\.0 KB, the limit per file"):
        file_service.store_uploads(engine, store, [up("big.bin", b"x" * 1025)], file_limit=1024)
    with pytest.raises(ValidationError, match="the limit per message"):
        file_service.store_uploads(
            engine, store, [up("a", b"x" * 800), up("b", b"y" * 800)], 1024, message_limit=1500
        )
    eleven = [up(f"f{n}.txt", b"n") for n in range(11)]
    with pytest.raises(ValidationError, match="11 files attached; a message takes at most 10"):
        ticket_service.create_ticket(engine, requester, "Many", "Low", now, eleven, store)
    assert rows(engine) == 0


@pytest.mark.sqlite_only
def test_default_store_is_a_files_directory_beside_the_sqlite_file(
    engine: Engine, requester: Account, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKETDESK_FILES_URL", raising=False)
    monkeypatch.delenv("TICKETDESK_FILES_DIR", raising=False)
    ticket = ticket_service.create_ticket(
        engine, requester, "Default", "Low", now, [up("a.log", LOG)]
    )
    folder = Path(str(engine.url.database)).parent / "files"
    assert (folder / sha(LOG)[:2] / sha(LOG)).read_bytes() == LOG
    (file,) = ticket_service.ticket_detail(engine, requester, ticket.code).attachments
    assert whole(engine, requester, file.id) == LOG


def test_a_30_mb_file_is_refused_with_a_clear_message_and_nothing_is_kept(
    engine: Engine, tmp_path: Path, requester: Account, now: datetime
) -> None:
    store = DirectoryStore(tmp_path / "files")
    thirty = up("video.mp4", bytes(30 * 1024 * 1024))
    with pytest.raises(ValidationError) as refused:
        ticket_service.create_ticket(
            engine, requester, "See video", "Low", now, [up("a.log", LOG), thirty], store
        )
    assert str(refused.value) == (
        "'video.mp4' is larger than 25.0 MB, the limit per file. Nothing was saved; your text "
        "and the other files are still in the form: remove that file and submit again."
    )
    assert rows(engine) == 0
    assert stored(store) == {sha(LOG)}  # the file before it: an orphan for files-gc
    assert list((tmp_path / "files" / "tmp").iterdir()) == []  # no partial blob


def test_streamlit_refuses_the_same_files_as_the_desk() -> None:
    """Streamlit's uploader refuses files above maxUploadSize * 10^6 bytes in the browser
    (tests/e2e/test_e2e_files.py), its upload endpoint above maxUploadSize * 2^20."""
    import tomllib

    config = tomllib.loads((Path(__file__).parents[2] / ".streamlit/config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 1000 * 1000 == MAX_FILE_BYTES == 25_000_000
    assert config["server"]["maxUploadSize"] * 1024 * 1024 >= MAX_FILE_BYTES
