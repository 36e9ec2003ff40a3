"""The file store: attachments' bytes, outside the SQL database, one blob per distinct content
under its SHA-256 (the same file attached twice is stored once).

Two backends: a directory (TICKETDESK_FILES_DIR, by default `files` beside the SQLite file)
and an S3-compatible bucket (TICKETDESK_FILES_URL=s3://bucket/prefix, through boto3, which
reads the endpoint and credentials from the usual AWS_* variables). A blob is written before
the transaction that records it, so a crash leaves at most a blob nobody refers to (swept by
`ticketdesk files-gc`), never a reference to a missing blob; it is deleted only after the last
row naming it is gone. Blobs are read in chunks: a download never holds a file in memory.

Content-addressed blobs are shared, so an upload of content X and the deletion of blob X (its
last attachment removed) meet on X's row in `blobs`: the upload claims it (a committed
`pending` count) after writing its bytes and before putting them under X's key; a deletion
locks it, finds no attachment and no recent claim, deletes the blob and the row, and commits.
The rows recording an upload then turn its claim into a reference (`confirm_claims`), which
fails if the row is gone. The reasoning is in docs/operations.md ("Attachments")."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

import filetype  # type: ignore[import-untyped]
from sqlalchemy import Connection, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ticketdesk.domain.errors import UploadLost
from ticketdesk.store.schema import attachments, blobs

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

CHUNK = 256 * 1024
HEAD_BYTES = 8192  # enough for filetype's signatures
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class FileTooLarge(Exception):
    """The stream passed the size limit while being stored; nothing was kept."""


class Stored:
    """A blob just written: its digest, size and first bytes (to tell its type)."""

    def __init__(self, sha256: str, size: int, head: bytes) -> None:
        self.sha256, self.size, self.head = sha256, size, head


Claim = Callable[[str], None]
"""Called by `put` with the digest of the bytes it has written, before it puts them under
their key (where a reader, or a deletion, finds them): services.files claims the content in
the database there."""


class BlobStore(Protocol):
    def put(self, stream: BinaryIO, limit: int, claim: Claim | None = None) -> Stored: ...

    def size(self, sha256: str) -> int | None: ...

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The bytes start..end (inclusive; None: to the end), chunk by chunk."""
        ...

    def delete(self, sha256: str) -> None: ...

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        """Every stored digest with the time its blob was last written."""
        ...

    def sweep_partial(self, before: datetime) -> int:
        """Remove the leftovers of writes started before `before` that never finished (a
        process killed mid-upload); returns how many."""
        ...


def _hashing_copy(stream: BinaryIO, out: IO[bytes], limit: int) -> Stored:
    digest, size, head = hashlib.sha256(), 0, b""
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise FileTooLarge
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        digest.update(chunk)
        out.write(chunk)
    return Stored(digest.hexdigest(), size, head)


def _check(sha256: str) -> str:
    if not _DIGEST.match(sha256):
        raise ValueError(f"not a SHA-256 digest: {sha256[:80]!r}")
    return sha256


class DirectoryStore:
    """Blobs as files <root>/<first two hex digits>/<digest>; written to a temporary file in
    <root>/tmp, flushed to disk, then renamed into place (a reader never sees half a blob),
    also when that content is there already: the blob is whole and its time new, whatever a
    deletion did before the claim."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / _check(sha256)

    def put(self, stream: BinaryIO, limit: int, claim: Claim | None = None) -> Stored:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                stored = _hashing_copy(stream, out, limit)
                out.flush()
                os.fsync(out.fileno())
            if claim is not None:
                claim(stored.sha256)
            final = self._path(stored.sha256)
            final.parent.mkdir(exist_ok=True)
            os.replace(name, final)
            return stored
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)

    def size(self, sha256: str) -> int | None:
        try:
            return self._path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self._path(sha256).open("rb") as f:
            f.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = f.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(sha256).unlink()

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if _DIGEST.match(path.name):
                    yield path.name, datetime.fromtimestamp(path.stat().st_mtime, UTC)

    def sweep_partial(self, before: datetime) -> int:
        """Temporary files in <root>/tmp older than `before`: a write killed before its
        rename (a live write's file is younger than files-gc's grace period)."""
        swept = 0
        tmp = self.root / "tmp"
        for path in sorted(tmp.iterdir()) if tmp.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                if datetime.fromtimestamp(path.stat().st_mtime, UTC) <= before:
                    path.unlink()
                    swept += 1
        return swept


class S3Store:
    """Blobs as objects <prefix>/<digest> of one bucket. An upload is spooled to a local
    temporary file while it is hashed (its key is its digest), then, after the claim, sent in
    parts unless that content is there already (an object's time is not renewed: the claim,
    not the time, keeps it from a deletion)."""

    def __init__(self, bucket: str, prefix: str, client: S3Client) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}/{_check(sha256)}" if self.prefix else _check(sha256)

    def put(self, stream: BinaryIO, limit: int, claim: Claim | None = None) -> Stored:
        with tempfile.TemporaryFile() as spool:
            stored = _hashing_copy(stream, spool, limit)
            if claim is not None:
                claim(stored.sha256)
            if self.size(stored.sha256) is None:
                spool.seek(0)
                self.client.upload_fileobj(spool, self.bucket, self._key(stored.sha256))
            return stored

    def size(self, sha256: str) -> int | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(sha256))
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        wanted = f"bytes={start}-{'' if end is None else end}"
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256), Range=wanted)
        stream = body["Body"]
        try:
            yield from stream.iter_chunks(CHUNK)
        finally:
            stream.close()

    def delete(self, sha256: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(sha256))

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
        )
        for page in pages:
            for item in page.get("Contents", []):
                digest = item["Key"].rsplit("/", 1)[-1]
                if _DIGEST.match(digest):
                    yield digest, item["LastModified"].astimezone(UTC)

    def sweep_partial(self, before: datetime) -> int:
        """Multipart uploads under the prefix begun before `before` and never completed (their
        parts cost storage but are no object): aborted. The local spool of an upload is an
        anonymous temporary file, gone with its process."""
        swept = 0
        pages = self.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"].astimezone(UTC) <= before:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    swept += 1
        return swept


@functools.cache
def open_store(location: str) -> BlobStore:
    """The store at `location`: `s3://bucket/prefix` or a directory path."""
    if location.startswith("s3://"):
        import boto3  # only where S3 is configured: it takes a while to import

        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"TICKETDESK_FILES_URL names no bucket: {location!r}")
        client: Any = boto3.client("s3")
        return S3Store(bucket, prefix, client)
    return DirectoryStore(Path(location))


def detect_type(head: bytes) -> str:
    """The media type of a file from its first bytes (never from its name): what `filetype`
    recognises, else text/plain for UTF-8 text, else application/octet-stream. HTML and SVG
    are text to it: they are served as plain text downloads."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the head
            return "application/octet-stream"
    return "text/plain"


def referenced(conn: Connection, digests: Iterable[str]) -> set[str]:
    """Which of `digests` some attachment row still names."""
    wanted = sorted(set(digests))
    if not wanted:
        return set()
    query = select(attachments.c.sha256).where(attachments.c.sha256.in_(wanted)).distinct()
    return set(conn.execute(query).scalars())


def claim_blob(conn: Connection, sha256: str, at: datetime) -> None:
    """An upload has written `sha256`'s bytes and is about to put them under their key and
    record them: one more pending upload of that content, claimed `at` (committed on its own,
    before the bytes are put in place). Waits while a deletion of that blob holds its row."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(blobs).values(sha256=_check(sha256), pending=1, claimed_at=at)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["sha256"],
            set_={"pending": blobs.c.pending + 1, "claimed_at": statement.excluded.claimed_at},
        )
    )


def confirm_claims(conn: Connection, digests: Sequence[str]) -> None:
    """In the transaction recording attachments of `digests` (one per attachment): each
    upload's claim becomes a reference. UploadLost if a blob was deleted since its claim (an
    upload slower than files-gc's grace period): the transaction must not commit."""
    for digest in digests:
        done = conn.execute(
            update(blobs)
            .where(blobs.c.sha256 == digest)
            .values(pending=case((blobs.c.pending > 0, blobs.c.pending - 1), else_=0))
        )
        if done.rowcount != 1:
            raise UploadLost(
                "A file you attached was deleted from the file store before your message was "
                "saved (its upload took longer than allowed). Nothing was saved; your text and "
                "files are still in the form: submit again."
            )


def lock_blob(conn: Connection, sha256: str) -> tuple[int, datetime | None] | None:
    """The row of `sha256`, locked for the rest of the transaction (made first if missing,
    e.g. for a blob no upload claimed since migration 0016: an upload's claim then waits on it too):
    its pending uploads and its latest claim. None: another deletion of it has just
    committed (PostgreSQL; nothing left to do)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(blobs).values(sha256=_check(sha256), pending=0).on_conflict_do_nothing()
    )
    row = conn.execute(
        select(blobs.c.pending, blobs.c.claimed_at)
        .where(blobs.c.sha256 == sha256)
        .with_for_update()
    ).one_or_none()
    return None if row is None else (int(row.pending), row.claimed_at)


def forget_blob(conn: Connection, sha256: str) -> None:
    conn.execute(delete(blobs).where(blobs.c.sha256 == sha256))


def idle_blobs(conn: Connection, claimed_before: datetime) -> list[str]:
    """Rows no attachment names and no upload claimed since `claimed_before` (left by an
    upload that failed or was killed, whose blob may never have been put in place)."""
    named = select(attachments.c.sha256).where(attachments.c.sha256 == blobs.c.sha256)
    query = (
        select(blobs.c.sha256)
        .where(~named.exists())
        .where(
            (blobs.c.pending == 0)
            | blobs.c.claimed_at.is_(None)
            | (blobs.c.claimed_at <= claimed_before)
        )
        .order_by(blobs.c.sha256)
    )
    return list(conn.execute(query).scalars())
