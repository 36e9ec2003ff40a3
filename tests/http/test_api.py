"""The HTTP API against a real server (`streamlit run ticket.py`), on SQLite and PostgreSQL:
who may do what (role by operation by own/other ticket), tokens (missing, revoked, read-only,
the session cookie refused), problem+json errors, If-Match, cursors, the OpenAPI document."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.api import ApiDesk
from ticketdesk.domain.tickets import ticket_code
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import tokens as token_service
from ticketdesk.web.engine import SESSION_COOKIE

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}

Op = Callable[[httpx.Client, str], httpx.Response]


def _etag(client: httpx.Client, code: str) -> str:
    # Fetched with an agent's rights by the caller when needed; a requester gets none.
    return str(client.get(f"/tickets/{code}").headers.get("ETag", '"1"'))


OPERATIONS: dict[str, Op] = {
    "list": lambda c, code: c.get("/tickets"),
    "get": lambda c, code: c.get(f"/tickets/{code}"),
    "create": lambda c, code: c.post("/tickets", json={"issue": "New one", "priority": "Low"}),
    "change": lambda c, code: c.patch(
        f"/tickets/{code}", json={"priority": "High"}, headers={"If-Match": _etag(c, code)}
    ),
    "reply": lambda c, code: c.post(
        f"/tickets/{code}/messages", json={"kind": "reply", "body": "On it"}
    ),
    "note": lambda c, code: c.post(
        f"/tickets/{code}/messages", json={"kind": "note", "body": "Internal"}
    ),
    "message": lambda c, code: c.post(
        f"/tickets/{code}/messages", json={"kind": "message", "body": "Any news?"}
    ),
    "dashboard": lambda c, code: c.get("/dashboard", params={"days": 7}),
    "accounts": lambda c, code: c.get("/accounts"),
    "sla-targets": lambda c, code: c.get("/sla-targets"),
}

# Expected status per (role, operation, whose ticket): worked out from docs/security.md's
# role table. "own" = a ticket the caller filed; "other" = someone else's.
OK, CREATED, FORBIDDEN = 200, 201, 403
MATRIX: dict[tuple[str, str], tuple[int, int]] = {
    # role, operation: (own ticket, other's ticket)
    ("requester", "list"): (OK, OK),
    ("requester", "get"): (OK, FORBIDDEN),
    ("requester", "create"): (CREATED, CREATED),
    ("requester", "change"): (FORBIDDEN, FORBIDDEN),
    ("requester", "reply"): (FORBIDDEN, FORBIDDEN),
    ("requester", "note"): (FORBIDDEN, FORBIDDEN),
    ("requester", "message"): (CREATED, FORBIDDEN),
    ("requester", "dashboard"): (FORBIDDEN, FORBIDDEN),
    ("requester", "accounts"): (FORBIDDEN, FORBIDDEN),
    ("requester", "sla-targets"): (FORBIDDEN, FORBIDDEN),
    ("agent", "list"): (OK, OK),
    ("agent", "get"): (OK, OK),
    ("agent", "create"): (CREATED, CREATED),
    ("agent", "change"): (OK, OK),
    ("agent", "reply"): (CREATED, CREATED),
    ("agent", "note"): (CREATED, CREATED),
    ("agent", "message"): (CREATED, FORBIDDEN),  # only the ticket's requester writes as one
    ("agent", "dashboard"): (OK, OK),
    ("agent", "accounts"): (FORBIDDEN, FORBIDDEN),
    ("agent", "sla-targets"): (FORBIDDEN, FORBIDDEN),
    ("admin", "list"): (OK, OK),
    ("admin", "get"): (OK, OK),
    ("admin", "create"): (CREATED, CREATED),
    ("admin", "change"): (OK, OK),
    ("admin", "reply"): (CREATED, CREATED),
    ("admin", "note"): (CREATED, CREATED),
    ("admin", "message"): (CREATED, FORBIDDEN),
    ("admin", "dashboard"): (OK, OK),
    ("admin", "accounts"): (OK, OK),
    ("admin", "sla-targets"): (OK, OK),
}


@pytest.mark.parametrize("role", ["requester", "agent", "admin"])
def test_authorisation_matrix(api_desk: ApiDesk, role: str) -> None:
    me = api_desk.person(role)
    someone = api_desk.person("requester")
    token = api_desk.token(me)
    failures = []
    with api_desk.client(token) as client:
        for (who, name), (own_status, other_status) in MATRIX.items():
            if who != role:
                continue
            for whose, expected in (("own", own_status), ("other", other_status)):
                ticket = api_desk.ticket(me if whose == "own" else someone)
                response = OPERATIONS[name](client, ticket_code(ticket.id))
                if response.status_code != expected:
                    failures.append(f"{name} on {whose}: {response.status_code} {response.text}")
                elif expected == FORBIDDEN:
                    assert response.headers["content-type"].startswith(PROBLEM)
                    assert response.json()["status"] == FORBIDDEN
    assert not failures, "\n".join(failures)


def test_a_requester_sees_only_their_tickets_and_never_notes(api_desk: ApiDesk) -> None:
    agent, me, other = (api_desk.person(r) for r in ("agent", "requester", "requester"))
    mine = api_desk.ticket(me, "My laptop")
    theirs = api_desk.ticket(other, "Their laptop")
    at = datetime.now(UTC)
    ticket_service.add_message(api_desk.engine, agent.account, mine.id, "note", "secret", at)
    ticket_service.add_message(api_desk.engine, agent.account, mine.id, "reply", "hello", at)
    with api_desk.client(api_desk.token(me)) as client:
        listed = client.get("/tickets").json()
        assert [t["id"] for t in listed["items"]] == [mine.id]
        assert listed["items"][0]["version"] is None
        detail = client.get(f"/tickets/{ticket_code(mine.id)}")
        assert "ETag" not in detail.headers
        assert [m["body"] for m in detail.json()["messages"]] == ["hello"]
        assert "note" not in {h["kind"] for h in detail.json()["history"]}
        assert client.get(f"/tickets/{ticket_code(theirs.id)}").status_code == 403


def test_without_a_valid_token_nothing_is_answered(api_desk: ApiDesk) -> None:
    me = api_desk.person("agent")
    session = account_service.sign_in(
        api_desk.engine, me.email, me.password or "", "test", datetime.now(UTC)
    )
    token = api_desk.token(me)
    with api_desk.client() as client:
        bare = client.get("/tickets")
        assert bare.status_code == 401
        assert bare.headers["content-type"].startswith(PROBLEM)
        assert bare.headers["www-authenticate"] == "Bearer"
        # The browser's session cookie is no credential here (reads or writes).
        client.cookies.set(SESSION_COOKIE, session.token)
        assert client.get("/tickets").status_code == 401
        assert client.post("/tickets", json={"issue": "x"}).status_code == 401
        forged = client.get("/tickets", headers={"Authorization": "Bearer tdk_forged"})
        assert forged.status_code == 401
    made = token_service.my_tokens(api_desk.engine, me.account)[0]
    token_service.revoke_token(api_desk.engine, me.account, made.id)
    with api_desk.client(token) as client:
        assert client.get("/tickets").status_code == 401


def test_a_read_only_token_reads_but_never_writes(api_desk: ApiDesk) -> None:
    me = api_desk.person("agent")
    ticket = api_desk.ticket(api_desk.person("requester"))
    with api_desk.client(api_desk.token(me, read_only=True)) as client:
        assert client.get(f"/tickets/{ticket_code(ticket.id)}").status_code == 200
        refused = client.post("/tickets", json={"issue": "x"})
        assert refused.status_code == 403
        assert "read-only" in refused.json()["detail"]
    info = token_service.my_tokens(api_desk.engine, me.account)[0]
    assert info.last_used_at is not None


def test_a_change_needs_the_current_version(api_desk: ApiDesk) -> None:
    agent = api_desk.person("agent")
    ticket = api_desk.ticket(api_desk.person("requester"))
    code = ticket_code(ticket.id)
    with api_desk.client(api_desk.token(agent)) as client:
        assert client.get(f"/tickets/{code}").headers["ETag"] == '"1"'
        missing = client.patch(f"/tickets/{code}", json={"status": "In Progress"})
        assert missing.status_code == 428
        done = client.patch(
            f"/tickets/{code}", json={"status": "In Progress"}, headers={"If-Match": '"1"'}
        )
        assert done.status_code == 200, done.text
        assert done.headers["ETag"] == '"2"'
        stale = client.patch(
            f"/tickets/{code}", json={"priority": "Low"}, headers={"If-Match": '"1"'}
        )
        assert stale.status_code == 412
        assert stale.headers["content-type"].startswith(PROBLEM)
        assert stale.json()["current"]["status"] == "In Progress"
        assert stale.json()["current"]["version"] == 2
        unknown = client.patch(
            "/tickets/TICKET-999999", json={"priority": "Low"}, headers={"If-Match": '"1"'}
        )
        assert unknown.status_code == 404
        invalid = client.patch(
            f"/tickets/{code}", json={"status": "Lost"}, headers={"If-Match": '"2"'}
        )
        assert invalid.status_code == 422
        assert invalid.headers["content-type"].startswith(PROBLEM)


def test_two_clients_with_the_same_version_one_wins(api_desk: ApiDesk) -> None:
    agents = [api_desk.person("agent"), api_desk.person("agent")]
    ticket = api_desk.ticket(api_desk.person("requester"))
    code = ticket_code(ticket.id)
    results: list[httpx.Response] = []
    start = threading.Barrier(2)

    def change(token: str, priority: str) -> None:
        with api_desk.client(token) as client:
            start.wait()
            results.append(
                client.patch(
                    f"/tickets/{code}", json={"priority": priority}, headers={"If-Match": '"1"'}
                )
            )

    tokens = [api_desk.token(a) for a in agents]
    threads = [
        threading.Thread(target=change, args=(tokens[0], "High")),
        threading.Thread(target=change, args=(tokens[1], "Low")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 412]
    winner = next(r for r in results if r.status_code == 200).json()
    loser = next(r for r in results if r.status_code == 412).json()
    assert loser["current"]["priority"] == winner["priority"]
    stored = ticket_service.ticket_detail(api_desk.engine, agents[0].account, code)
    assert stored.ticket.priority.value == winner["priority"]
    assert stored.ticket.version == 2
    assert [c.kind.value for c in stored.history].count("priority") == 1


def test_pages_follow_the_cursor_to_the_end(api_desk: ApiDesk) -> None:
    me = api_desk.person("requester")
    made = [api_desk.ticket(me, f"Cursor ticket {n}").id for n in range(5)]
    seen: list[int] = []
    with api_desk.client(api_desk.token(me)) as client:
        params: dict[str, str | int] = {"limit": 2, "sort": "id", "order": "asc"}
        response = client.get("/tickets", params=params).json()
        assert response["matching"] == 5
        while True:
            seen += [t["id"] for t in response["items"]]
            if response["next_cursor"] is None:
                break
            response = client.get(
                "/tickets", params={**params, "cursor": response["next_cursor"]}
            ).json()
        assert seen == made
        other_filter = client.get("/tickets", params={"limit": 3, "cursor": "eyJmIjoxfQ"})
        assert other_filter.status_code == 400
        assert other_filter.headers["content-type"].startswith(PROBLEM)


def test_a_cursor_the_api_did_not_give_out_is_a_documented_400(api_desk: ApiDesk) -> None:
    # Found by tests/http/test_api_schema.py: the answer was right but the document did not
    # list 400 for GET /tickets, so a client generated from it had no case for it.
    with api_desk.client(api_desk.token(api_desk.person("requester"))) as client:
        answer = client.get("/tickets", params={"cursor": ""})
        assert answer.status_code == 400
        assert answer.headers["content-type"].startswith(PROBLEM)
        documented = client.get("/openapi.json").json()["paths"]["/tickets"]["get"]["responses"]
    assert "400" in documented
    assert documented["400"]["content"] == {PROBLEM: {"schema": PROBLEM_SCHEMA}}


def test_the_document_lists_every_error_as_the_problem_json_it_is(api_desk: ApiDesk) -> None:
    # Found by tests/http/test_api_schema.py: errors are sent as application/problem+json,
    # but the document said application/json, and for some 422s FastAPI's own error shape.
    with api_desk.client() as client:
        spec = client.get("/openapi.json").json()
    errors = [
        (path, method, status, answer["content"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status.startswith("4")
    ]
    assert len(errors) >= 9 * 3  # 401, 403 and 429 on each of the nine operations
    for path, method, status, content in errors:
        assert content == {PROBLEM: {"schema": PROBLEM_SCHEMA}}, (path, method, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_a_path_with_a_newline_is_the_apis_own_problem_json_404(api_desk: ApiDesk) -> None:
    # Found by tests/http/test_api_schema.py: %0A in a ticket ID got a text/plain 404 from
    # outside the API, not the documented problem+json.
    with api_desk.client(api_desk.token(api_desk.person("agent"))) as client:
        answer = client.get("/tickets/no%0Aticket")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert "is not a ticket ID" in answer.json()["detail"]


def test_a_body_that_is_not_utf8_is_a_documented_400(api_desk: ApiDesk) -> None:
    # Found by tests/http/test_api_schema.py: FastAPI answers 400 to such a body, and the
    # document listed only 422 for the operations that take one.
    with api_desk.client(api_desk.token(api_desk.person("agent"))) as client:
        answer = client.post(
            "/tickets", content=b"\xff{", headers={"Content-Type": "application/json"}
        )
        spec = client.get("/openapi.json").json()
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith(PROBLEM)
    with_body = [
        (path, method, operation["responses"])
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert len(with_body) == 4  # POST /tickets, PATCH, POST messages, PUT /sla-targets
    for path, method, responses in with_body:
        assert "400" in responses, (path, method)


def test_search_finds_by_words(api_desk: ApiDesk) -> None:
    agent = api_desk.person("agent")
    me = api_desk.person("requester")
    wanted = api_desk.ticket(me, "The xylophone in room 4 is out of tune")
    api_desk.ticket(me, "Another thing")
    with api_desk.client(api_desk.token(agent)) as client:
        found = client.get("/tickets", params={"search": "xylophone"}).json()
        assert [t["id"] for t in found["items"]] == [wanted.id]


def test_the_openapi_document_and_docs_need_no_token(api_desk: ApiDesk) -> None:
    with api_desk.client() as client:
        spec = client.get("/openapi.json")
        assert spec.status_code == 200
        assert spec.json()["info"]["title"] == "Ticket desk API"
        assert "/tickets/{code}" in spec.json()["paths"]
        docs = client.get("/docs")
        assert docs.status_code == 200
        assert "PATCH /api/v1/tickets/{code}" in docs.text
        assert client.get("/nothing-here").headers["content-type"].startswith(PROBLEM)
