"""The corpus of awkward input typed into the new-ticket form and the search box of the app:
each value is refused with a clear message (the text kept in the form) or stored exactly and
shown as text; never a traceback."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.support.apptest import (
    open_app,
    open_new_ticket_form,
    person,
    session_of,
    submit_new_ticket,
)
from tests.support.awkward_input import CORPUS
from ticketdesk.services import accounts as account_service


@pytest.mark.parametrize(
    "value",
    [v for v, _ in CORPUS if "\ud800" not in v],  # a browser cannot send a lone surrogate
)
def test_the_form_and_search_box_through_the_app(value: str, app_engine: Engine) -> None:
    password = account_service.generate_password()
    agent = person(app_engine, "Agent", "agent", email="a@example.com", password=password)
    at = open_app(session_of(app_engine, agent, password))
    open_new_ticket_form(at)
    at.text_area(key="new_issue").input(value)
    submit_new_ticket(at)
    assert not at.exception
    refused = dict(CORPUS)[value]
    if refused:
        assert at.error, value
        assert at.text_area(key="new_issue").value == value  # nothing lost
    else:
        assert at.success and not at.error
        assert at.data_editor[0].value.iloc[0]["Issue"] == value
    at.text_input(key="search").input(value[:200]).run()
    assert not at.exception
