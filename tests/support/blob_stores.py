"""File stores for the attachment tests: new empty ones (a directory, and a bucket on the local
S3 server of tests/support/s3.py: the `blob_store` fixture of tests/db/conftest.py runs a test
on both), and a store that
runs a test's code at the moments that matter to a race (after an upload's blob is written,
before the transaction that names it; while a blob is being deleted)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import pytest

from tests.support.s3 import S3Server
from ticketdesk.store.files import BlobStore, DirectoryStore, S3Store, Stored

STORE_KINDS = ["directory", "s3"]


def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """A new, empty store of the kind `request.param` (the `blob_store` fixture of
    tests/db/conftest.py; "s3" uses the `s3_server` fixture)."""
    if request.param == "directory":
        return DirectoryStore(tmp_path / "files")
    server: S3Server = request.getfixturevalue("s3_server")
    return S3Store(server.new_bucket(), "desk/files", server.client())


def stored(store: BlobStore) -> set[str]:
    """The digests of every blob in `store`."""
    return {digest for digest, _ in store.blobs()}


class Interleaved:
    """`inner`, running `after_put(digest)` when an upload's blob is in place (its
    transaction has not begun) and `on_delete(digest)` before a blob is deleted."""

    def __init__(
        self,
        inner: BlobStore,
        after_put: Callable[[str], None] | None = None,
        on_delete: Callable[[str], None] | None = None,
    ) -> None:
        self.inner, self.after_put, self.on_delete = inner, after_put, on_delete

    def put(
        self, stream: BinaryIO, limit: int, claim: Callable[[str], None] | None = None
    ) -> Stored:
        blob = self.inner.put(stream, limit, claim)
        if self.after_put is not None:
            self.after_put(blob.sha256)
        return blob

    def size(self, sha256: str) -> int | None:
        return self.inner.size(sha256)

    def read(self, sha256: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.inner.read(sha256, start, end)

    def delete(self, sha256: str) -> None:
        if self.on_delete is not None:
            self.on_delete(sha256)
        self.inner.delete(sha256)

    def blobs(self) -> Iterator[tuple[str, datetime]]:
        return self.inner.blobs()

    def sweep_partial(self, before: datetime) -> int:
        return self.inner.sweep_partial(before)
