from __future__ import annotations

import pytest

from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.tickets import (
    ISSUE_MAX_CHARS,
    parse_ticket_code,
    ticket_code,
    validate_issue,
    validate_priority,
    validate_status,
)


@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n"])
def test_empty_or_blank_issue_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="cannot be empty"):
        validate_issue(text)


def test_issue_at_the_limit_is_kept_and_one_more_is_refused() -> None:
    assert validate_issue("x" * ISSUE_MAX_CHARS) == "x" * ISSUE_MAX_CHARS
    with pytest.raises(ValidationError, match="5,001 characters long; the limit is 5,000"):
        validate_issue("x" * (ISSUE_MAX_CHARS + 1))


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>",
        "'; DROP TABLE tickets; --",
        "مرحبا بالعالم 🎫 ñ",
        "  leading and trailing spaces are the writer's  ",
        "line one\nline two\ttabbed\r\n",
    ],
)
def test_issue_text_is_kept_exactly(text: str) -> None:
    assert validate_issue(text) == text


@pytest.mark.parametrize("text", ["bad\x00byte", "bell\x07", "esc\x1b[31m"])
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="control character"):
        validate_issue(text)


def test_lone_surrogate_is_refused() -> None:
    with pytest.raises(ValidationError, match="surrogate"):
        validate_issue("broken \ud800 text")


def test_ticket_codes_round_trip_and_malformed_codes_are_refused() -> None:
    assert ticket_code(1042) == "TICKET-1042"
    assert parse_ticket_code("TICKET-1042") == 1042
    for bad in ["TICKET-", "TICKET-0", "ticket-1", "TICKET-1x", "1042", "TICKET--1"]:
        with pytest.raises(ValidationError):
            parse_ticket_code(bad)


def test_status_and_priority_must_be_known_values() -> None:
    assert validate_status("In Progress").value == "In Progress"
    assert validate_priority("Low").value == "Low"
    with pytest.raises(ValidationError, match="not a status"):
        validate_status("Done")
    with pytest.raises(ValidationError, match="not a priority"):
        validate_priority("Urgent")
