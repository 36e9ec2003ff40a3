"""The CSV export lists each ticket's files by name and link (never their content), read per
batch of tickets rather than once per ticket; a requester's export never lists the files of
internal notes."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from ticketdesk.domain.accounts import Account
from ticketdesk.domain.files import Upload
from ticketdesk.queries import export
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services.tickets import Sort, SortColumn, TicketFilter
from ticketdesk.store.files import DirectoryStore

BASE = "https://desk.example.com"
BY_ID = Sort(SortColumn.ID, descending=False)


def up(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


def exported(engine: Engine, who: Account, base_url: str = BASE) -> dict[str, str]:
    """Each exported ticket's code -> its Attachments cell."""
    rows = ticket_service.export_with_files(engine, who, TicketFilter(), BY_ID)
    text = "".join(export.csv_chunks(rows, base_url))
    header, *body = csv.reader(io.StringIO(text, newline=""))
    assert header[-1] == "Attachments"
    return {row[0]: row[-1] for row in body}


def test_export_lists_files_by_name_and_link_and_no_note_files_for_requesters(
    engine: Engine,
    tmp_path: Path,
    requester: Account,
    other_requester: Account,
    agent: Account,
    now: datetime,
) -> None:
    store = DirectoryStore(tmp_path / "files")
    first = ticket_service.create_ticket(
        engine, requester, "VPN down", "High", now, [up("my log.txt", b"log")], store
    )
    ticket_service.add_message(
        engine, agent, first.id, "reply", "see", now, [up("fix.png", b"\x89PNG\r\n\x1a\n")], store
    )
    ticket_service.add_message(
        engine, agent, first.id, "note", "pw", now, [up("secret.txt", b"pw=hunter2")], store
    )
    bare = ticket_service.create_ticket(engine, requester, "No files", "Low", now)
    others = ticket_service.create_ticket(
        engine, other_requester, "Theirs", "Low", now, [up("theirs.txt", b"x")], store
    )
    own, reply, note = ticket_service.ticket_detail(engine, agent, first.code).attachments
    (their_file,) = ticket_service.ticket_detail(engine, agent, others.code).attachments

    # The name, then the desk's link with the name percent-encoded: written out by hand.
    assert exported(engine, agent) == {
        first.code: (
            f"my log.txt <{BASE}/files/{own.id}/my%20log.txt>\n"
            f"fix.png <{BASE}/files/{reply.id}/fix.png>\n"
            f"secret.txt <{BASE}/files/{note.id}/secret.txt>"
        ),
        bare.code: "",
        others.code: f"theirs.txt <{BASE}/files/{their_file.id}/theirs.txt>",
    }
    assert exported(engine, requester, base_url="") == {
        first.code: (
            f"my log.txt </files/{own.id}/my%20log.txt>\nfix.png </files/{reply.id}/fix.png>"
        ),
        bare.code: "",
    }
    # Links and names only: no byte of any file's content is in the export.
    text = "".join(
        export.csv_chunks(ticket_service.export_with_files(engine, agent, TicketFilter(), BY_ID))
    )
    assert "hunter2" not in text and "PNG\r" not in text


def test_files_are_read_per_batch_of_tickets_not_per_ticket(
    engine: Engine,
    tmp_path: Path,
    requester: Account,
    agent: Account,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = DirectoryStore(tmp_path / "files")
    codes = [
        ticket_service.create_ticket(
            engine, requester, f"T{n}", "Low", now, [up(f"f{n}.txt", b"%d" % n)], store
        ).code
        for n in range(5)
    ]
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 2)  # 5 tickets: batches of 2, 2 and 1
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM attachments" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        cells = exported(engine, agent)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert list(cells) == codes
    assert [cell.split(" <")[0] for cell in cells.values()] == [f"f{n}.txt" for n in range(5)]
    assert len(reads) == 3
