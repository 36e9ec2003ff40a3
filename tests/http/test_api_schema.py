"""Property tests of the whole HTTP API from its own OpenAPI document (schemathesis 4): for a
token of each role, every operation is called with generated requests, valid and invalid ones
(and for the operations on a ticket also ones naming a real ticket), and every response must
be one the document promises: no 5xx, a documented status code and content type, a body and
headers matching their schemas, no invalid request accepted and no valid one refused except
by a rule the document cannot state (schemathesis' default checks). Bounded and derandomized:
15 examples per operation and role, the same in every run."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode

from tests.support.api import ApiDesk
from ticketdesk.domain.tickets import ticket_code

EXAMPLES_PER_OPERATION = 15
# Every operation of the document as "METHOD /path": if one is added, this test must be
# told (and so covers it).
OPERATIONS = {
    "GET /tickets",
    "POST /tickets",
    "GET /tickets/{code}",
    "PATCH /tickets/{code}",
    "POST /tickets/{code}/messages",
    "GET /dashboard",
    "GET /accounts",
    "GET /sla-targets",
    "PUT /sla-targets",
}


# A valid request by the document may still break a rule it cannot state (a cursor this API
# did not give out, If-Match missing or stale, a change that changes nothing, first without
# last): those documented answers count as accepting it.
# And a query parameter the document does not name is ignored, as by most HTTP APIs (a
# client's cache buster must not fail): not an invalid request to be refused.
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"allow-extra-parameters": False},
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2XX", 400, 401, 403, 404, 412, 422, 428, 429]
            }
        },
    }
)


def _schema(desk: ApiDesk) -> Any:
    return schemathesis.openapi.from_url(
        desk.url + "/api/v1/openapi.json", config=CONFIG, timeout=30
    )


def test_the_schema_lists_every_operation(api_desk: ApiDesk) -> None:
    schema = _schema(api_desk)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels == OPERATIONS


@pytest.mark.parametrize("role", ["requester", "agent", "admin"])
def test_every_operation_answers_as_its_schema_says(api_desk: ApiDesk, role: str) -> None:
    schema = _schema(api_desk)
    person = api_desk.person(role)
    # A real ticket this person may see: theirs if a requester, anyone's for staff.
    owner = person if role == "requester" else api_desk.person("requester")
    real_code = ticket_code(api_desk.ticket(owner, "Schema test ticket").id)
    base_url = api_desk.url + "/api/v1"
    calls = 0
    headers: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        # A token per operation keeps each well inside the rate limit.
        headers["Authorization"] = f"Bearer {api_desk.token(person)}"
        fixed: dict[str, Any] = {}
        if "{code}" in operation.path:
            fixed = {"path_parameters": {"code": real_code}}
        strategy = st.one_of(
            [
                operation.as_strategy(mode, **given_code)
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                for given_code in ({}, fixed)
            ]
        )

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: Case[Any]) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=base_url, headers=headers)

        try:
            check()
        except Exception as exc:
            exc.add_note(f"{role} on {operation.label}")
            raise
    # Hypothesis ran each operation's examples (15 each here, in every run so far).
    assert calls >= len(OPERATIONS) * 10
