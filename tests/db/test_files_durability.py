"""A writer storing blobs and committing messages with attachments, SIGKILLed at random
moments: no attachment row ever names a missing (or partial) blob, everything acknowledged is
there, and `ticketdesk files-gc` then removes every orphan blob and nothing referenced."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, select

from ticketdesk.store.files import DirectoryStore
from ticketdesk.store.schema import attachments, ticket_messages

WRITER = Path(__file__).parents[1] / "support" / "file_writer_process.py"
KILLS = 5
CLI = (sys.executable, "-m", "ticketdesk.cli")


def run_and_kill(
    url: str, env: dict[str, str], tag: str, rng: random.Random
) -> tuple[set[int], set[int]]:
    """Start a writer, SIGKILL it at a random moment; the tickets it acknowledged creating,
    and those whose note (with its file) it acknowledged."""
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
    created: set[int] = set()
    noted: set[int] = set()
    for line in [first, *rest.splitlines()]:
        kind, ticket_id = line.split()
        (created if kind == "created" else noted).add(int(ticket_id))
    return created, noted


def test_sigkill_between_blob_and_commit_never_leaves_a_row_without_its_blob(
    engine: Engine, database: str, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TICKETDESK_FILES_DIR": str(folder)}
    env.pop("TICKETDESK_FILES_URL", None)
    rng = random.Random(20261202)
    created: set[int] = set()
    noted: set[int] = set()
    for round_ in range(KILLS):
        c, n = run_and_kill(database, env, f"round {round_}", rng)
        created |= c
        noted |= n
    store = DirectoryStore(folder)
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
        assert store.size(r.sha256) == r.size
        assert hashlib.sha256(b"".join(store.read(r.sha256))).hexdigest() == r.sha256
    # Everything acknowledged is there: two files on each ticket, one on each note.
    on_ticket = {t for t, s, z, kind in rows if kind is None}
    on_note = {t for t, s, z, kind in rows if kind == "note"}
    assert created <= on_ticket and noted <= on_note
    for ticket_id in created:
        assert sum(1 for r in rows if r.ticket_id == ticket_id and r.kind is None) == 2

    before = {digest for digest, _ in store.blobs()}
    assert referenced <= before
    orphans = before - referenced
    partial = list((folder / "tmp").glob("*")) if (folder / "tmp").is_dir() else []
    gc = subprocess.run(
        [*CLI, "--database-url", database, "files-gc", "--grace-minutes", "0"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [f"Deleted {len(orphans)} stored file(s) that no attachment refers to"]
    if partial:
        expected.append(f"Deleted {len(partial)} unfinished upload(s) left by interrupted writes")
    assert gc.stdout.splitlines() == expected, (len(orphans), len(partial))
    assert {digest for digest, _ in store.blobs()} == referenced
    for digest in referenced:
        assert hashlib.sha256(b"".join(store.read(digest))).hexdigest() == digest
    # Nothing half-written is left behind either (a kill inside a blob write leaves a
    # temporary file; files-gc sweeps those too).
    assert not list((folder / "tmp").glob("*"))
