"""GET /files/<id>/<name> against the real server (`streamlit run ticket.py`): who gets which
file (the same refusal for another's file, a note's file and no file at all), the headers
that keep a file from running in the desk's origin (HTML and SVG with script are plain-text
downloads in a sandbox), Range requests, and HEAD."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine

from tests.support.app_server import AppServer, run_app
from tests.support.signin import HTML, Person, add_person, new_database
from ticketdesk.domain.files import Attachment, Upload
from ticketdesk.services import accounts as account_service
from ticketdesk.services import files as file_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.web.engine import SESSION_COOKIE
from ticketdesk.web.files_route import FILE_POLICY, file_url

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
LOG = b"".join(b"%05d fine\n" % n for n in range(1000))  # 11 bytes a line
HTML_FILE = b"<!doctype html><script>alert('xss')</script><h1>hi</h1>"
SVG_FILE = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
ODD_NAME = "../../etc/\u202eexe.png\x07" + "x" * 290 + ".txt"


@dataclass
class Files:
    server: AppServer
    engine: Engine
    requester: Person
    other: Person
    agent: Person
    own: Attachment  # on the requester's ticket itself
    page: Attachment
    svg: Attachment
    odd: Attachment
    reply: Attachment  # a PNG on an agent's reply
    note: Attachment  # on an internal note
    others: Attachment  # on another requester's ticket

    def client(self, who: Person | None) -> httpx.Client:
        client = httpx.Client(base_url=self.server.url, timeout=20)
        if who is not None:
            assert who.password is not None
            now = datetime.now(UTC)
            token = account_service.sign_in(self.engine, who.email, who.password, "t", now).token
            client.cookies.set(SESSION_COOKIE, token)
        return client


def up(name: str, data: bytes) -> Upload:
    return Upload(name, io.BytesIO(data))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Files]:
    workdir = tmp_path_factory.mktemp("http_files")
    url, engine = new_database(workdir)
    requester, other = add_person(engine), add_person(engine)
    agent = add_person(engine, "agent")
    now = datetime.now(UTC)
    mine = ticket_service.create_ticket(
        engine,
        requester.account,
        "Mine",
        "Low",
        now,
        [up("app.log", LOG), up("page.html", HTML_FILE), up("x.svg", SVG_FILE), up(ODD_NAME, LOG)],
    )
    ticket_service.add_message(
        engine, agent.account, mine.id, "reply", "Look", now, [up("shot.png", PNG)]
    )
    ticket_service.add_message(
        engine, agent.account, mine.id, "note", "pw", now, [up("secret.txt", b"pw=hunter2")]
    )
    theirs = ticket_service.create_ticket(
        engine, other.account, "Theirs", "Low", now, [up("theirs.log", b"private")]
    )
    own, page, svg, odd, reply, note = ticket_service.ticket_detail(
        engine, agent.account, mine.code
    ).attachments
    (others,) = ticket_service.ticket_detail(engine, agent.account, theirs.code).attachments
    with run_app(workdir, demo_tickets=0, database_url=url) as server:
        yield Files(
            server, engine, requester, other, agent, own, page, svg, odd, reply, note, others
        )
    engine.dispose()


def get(files: Files, who: Person | None, file: Attachment, **headers: str) -> httpx.Response:
    with files.client(who) as client:
        return client.get(file_url(file.id, file.name), headers=headers)


def test_who_gets_which_file(files: Files) -> None:
    assert get(files, files.requester, files.own).content == LOG
    assert get(files, files.requester, files.reply).content == PNG
    assert get(files, files.agent, files.note).content == b"pw=hunter2"
    assert get(files, files.agent, files.others).content == b"private"
    missing = Attachment(files.others.id + 1000, 0, None, "0" * 64, "gone.txt", 0, "text/plain")
    refused = [
        get(files, files.requester, files.note),
        get(files, files.requester, files.others),
        get(files, files.other, files.own),
        get(files, files.requester, missing),
    ]
    assert [r.status_code for r in refused] == [404] * 4
    assert {r.text for r in refused} == {file_service.NOT_FOUND}
    anonymous = get(files, None, files.own)
    assert anonymous.status_code == 401
    assert LOG[:20] not in anonymous.content
    with httpx.Client(base_url=files.server.url, headers=HTML) as browser:
        page = browser.get(file_url(files.own.id, files.own.name))
    assert page.status_code == 303
    assert page.headers["location"].startswith("/signin?next=%2Ffiles%2F")


def test_images_inline_everything_else_a_download_and_nothing_runs(files: Files) -> None:
    image = get(files, files.requester, files.reply)
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith('inline; filename="shot.png"')
    for file, data in ((files.page, HTML_FILE), (files.svg, SVG_FILE), (files.own, LOG)):
        response = get(files, files.requester, file)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"].startswith("text/plain")
        disposition = response.headers["content-disposition"]
        assert disposition == (
            f"attachment; filename=\"{file.name}\"; filename*=UTF-8''{file.name}"
        )
    for file in (files.reply, files.page, files.svg):
        headers = get(files, files.requester, file).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == FILE_POLICY
        assert "sandbox" in headers["content-security-policy"]


def test_a_hostile_name_is_stored_as_one_plain_name(files: Files) -> None:
    name = files.odd.name
    assert "/" not in name and "\u202e" not in name and "\x07" not in name
    assert name.startswith("exe.png") and name.endswith(".txt") and len(name) == 200
    response = get(files, files.requester, files.odd)
    assert response.content == LOG
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="{name}"')
    assert disposition.endswith(f"filename*=UTF-8''{quote(name, safe='')}")


def test_range_requests(files: Files) -> None:
    part = get(files, files.requester, files.own, range="bytes=11-21")
    assert part.status_code == 206
    assert part.content == b"00001 fine\n"
    assert part.headers["content-range"] == f"bytes 11-21/{len(LOG)}"
    assert part.headers["content-length"] == "11"
    tail = get(files, files.requester, files.own, range="bytes=-11")
    assert (tail.status_code, tail.content) == (206, b"00999 fine\n")
    rest = get(files, files.requester, files.own, range=f"bytes={len(LOG) - 3}-")
    assert (rest.status_code, rest.content) == (206, b"ne\n")
    beyond = get(files, files.requester, files.own, range=f"bytes={len(LOG)}-")
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(LOG)}"
    several = get(files, files.requester, files.own, range="bytes=0-1,5-6")
    assert (several.status_code, several.content) == (200, LOG)  # the whole file instead
    stale = get(files, files.requester, files.own, range="bytes=0-1", **{"if-range": '"old"'})
    assert (stale.status_code, stale.content) == (200, LOG)
    refused = get(files, files.requester, files.note, range="bytes=0-1")
    assert refused.status_code == 404


def test_head_answers_the_size_without_the_body(files: Files) -> None:
    with files.client(files.requester) as client:
        response = client.head(file_url(files.own.id, files.own.name))
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(LOG))
    assert response.content == b""


def exported_files(response: httpx.Response) -> dict[str, str]:
    """Issue -> Attachments cell of an /export.csv response."""
    assert response.status_code == 200, response.text
    header, *rows = csv.reader(io.StringIO(response.text, newline=""))
    assert header[-1] == "Attachments"
    return {row[1]: row[-1] for row in rows}


def test_the_export_lists_files_by_name_and_link_and_a_requester_gets_no_note_files(
    files: Files,
) -> None:
    with files.client(files.requester) as client:
        cells = exported_files(client.get("/export.csv"))

    def link(f: Attachment) -> str:
        return f"{f.name} </files/{f.id}/{quote(f.name, safe='')}>"

    assert list(cells) == ["Mine"]  # never another requester's ticket
    assert cells["Mine"].splitlines() == [
        link(files.own),
        link(files.page),
        link(files.svg),
        link(files.odd),
        link(files.reply),
    ]
    assert "secret.txt" not in cells["Mine"] and "hunter2" not in cells["Mine"]
    with files.client(files.agent) as client:
        staff = exported_files(client.get("/export.csv"))
    assert staff["Mine"].splitlines()[-1] == link(files.note)
    assert staff["Theirs"] == link(files.others)


@pytest.mark.parametrize(
    ("base_url", "status"), [("https://desk.example.com/", 200), ("desk.example.com", 503)]
)
def test_export_links_use_the_configured_base_url(
    files: Files, tmp_path: Path, base_url: str, status: int
) -> None:
    with run_app(
        tmp_path,
        demo_tickets=0,
        database_url=files.server.database_url,
        extra_env={"TICKETDESK_BASE_URL": base_url},
    ) as server:
        with files.client(files.agent) as signed_in:
            cookie = signed_in.cookies[SESSION_COOKIE]
        response = httpx.get(
            f"{server.url}/export.csv", cookies={SESSION_COOKIE: cookie}, timeout=20
        )
    assert response.status_code == status
    if status == 503:  # a clear message, not a traceback
        assert response.text == (
            "Cannot export: TICKETDESK_BASE_URL must start with http:// or https://, "
            "not 'desk.example.com'"
        )
        return
    expected = f"theirs.log <https://desk.example.com/files/{files.others.id}/theirs.log>"
    assert exported_files(response)["Theirs"] == expected
