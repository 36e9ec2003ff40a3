"""A writer storing blobs and committing messages with attachments, SIGKILLed at random
moments, and once exactly between a blob's write and the commit that would name it: no
attachment row ever names a missing (or partial) blob, everything acknowledged is there, and
`ticketdesk files-gc` then removes every orphan blob and nothing referenced. On both stores:
a directory, and a bucket on a local S3 server (moto in server mode, tests/support/s3.py),
each with SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from tests.support.blob_stores import stored
from tests.support.s3 import S3Server
from ticketdesk.store.files import BlobStore, DirectoryStore, S3Store
from ticketdesk.store.schema import attachments, ticket_messages

WRITER = Path(__file__).parents[1] / "support" / "file_writer_process.py"
KILLS = 5
CLI = (sys.executable, "-m", "ticketdesk.cli")


@dataclass
class Acknowledged:
    created: set[int] = field(default_factory=set)  # tickets (two files each)
    noted: set[int] = field(default_factory=set)  # tickets whose note (one file) committed
    hung: str | None = None  # the blob put by a writer killed before its commit


def run_and_kill(
    url: str, env: dict[str, str], tag: str, rng: random.Random, seen: Acknowledged
) -> None:
    """Start a writer and SIGKILL it at a random moment; note what it acknowledged."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, tag], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # it is writing
    assert first.startswith("created"), first
    time.sleep(rng.uniform(0.01, 0.5))
    proc.send_signal(signal.SIGKILL)
    rest = proc.stdout.read()
    assert proc.wait() == -signal.SIGKILL  # killed mid-stream, not exited on its own
    for line in [first, *rest.splitlines()]:
        kind, ticket_id = line.split()
        (seen.created if kind == "created" else seen.noted).add(int(ticket_id))


def kill_after_put(url: str, env: dict[str, str], seen: Acknowledged) -> None:
    """Start a writer that stops after putting a note's blob; SIGKILL it there."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), url, "hung", "hang"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    created = proc.stdout.readline().split()
    assert created[0] == "created", created
    seen.created.add(int(created[1]))
    put = proc.stdout.readline().split()
    assert put[0] == "put", put
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    seen.hung = put[1]


def writer_env(store: BlobStore, request: pytest.FixtureRequest) -> dict[str, str]:
    """The writer's and files-gc's environment: the desk's file store is `store`."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TICKETDESK_FILES_URL", None)
    env.pop("TICKETDESK_FILES_DIR", None)
    if isinstance(store, DirectoryStore):
        return {**env, "TICKETDESK_FILES_DIR": str(store.root)}
    assert isinstance(store, S3Store)
    server: S3Server = request.getfixturevalue("s3_server")
    return {**env, **server.env(), "TICKETDESK_FILES_URL": f"s3://{store.bucket}/{store.prefix}"}


def leftovers(store: BlobStore) -> int:
    """What writes killed inside a blob's write left: temporary files (directory), or
    multipart uploads never completed (S3)."""
    if isinstance(store, DirectoryStore):
        tmp = store.root / "tmp"
        return len(list(tmp.iterdir())) if tmp.is_dir() else 0
    assert isinstance(store, S3Store)
    found = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=f"{store.prefix}/")
    return len(found.get("Uploads", []))


def test_sigkill_between_blob_and_commit_never_leaves_a_row_without_its_blob(
    engine: Engine, database: str, blob_store: BlobStore, request: pytest.FixtureRequest
) -> None:
    env = writer_env(blob_store, request)
    rng = random.Random(20261202)
    seen = Acknowledged()
    for round_ in range(KILLS):
        run_and_kill(database, env, f"round {round_}", rng, seen)
    kill_after_put(database, env, seen)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                attachments.c.ticket_id,
                attachments.c.sha256,
                attachments.c.size,
                ticket_messages.c.kind,
            ).select_from(
                attachments.outerjoin(
                    ticket_messages, attachments.c.message_id == ticket_messages.c.id
                )
            )
        ).all()
    referenced = {r.sha256 for r in rows}
    # Every row names a whole blob: present, of the recorded size, with the named content.
    for r in rows:
        assert blob_store.size(r.sha256) == r.size
        assert hashlib.sha256(b"".join(blob_store.read(r.sha256))).hexdigest() == r.sha256
    # Everything acknowledged is there: two files on each ticket, one on each note.
    on_ticket = {t for t, s, z, kind in rows if kind is None}
    on_note = {t for t, s, z, kind in rows if kind == "note"}
    assert seen.created <= on_ticket and seen.noted <= on_note
    for ticket_id in seen.created:
        assert sum(1 for r in rows if r.ticket_id == ticket_id and r.kind is None) == 2

    before = stored(blob_store)
    assert referenced <= before
    orphans = before - referenced
    # The writer killed after its blob's put: that blob is in the store, named by nothing.
    assert seen.hung in orphans
    partial = leftovers(blob_store)
    gc = subprocess.run(
        [*CLI, "--database-url", database, "files-gc", "--grace-minutes", "0"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [f"Deleted {len(orphans)} stored file(s) that no attachment refers to"]
    if partial:
        expected.append(f"Deleted {partial} unfinished upload(s) left by interrupted writes")
    assert gc.stdout.splitlines() == expected, (len(orphans), partial)
    assert stored(blob_store) == referenced
    for digest in referenced:
        assert hashlib.sha256(b"".join(blob_store.read(digest))).hexdigest() == digest
    # Nothing half-written is left behind either (a kill inside a blob write leaves a
    # temporary file; files-gc sweeps those too).
    assert leftovers(blob_store) == 0
