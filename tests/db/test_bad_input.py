"""Every place text enters, fed the same corpus of awkward input: each value is refused with
a clear message or stored exactly and shown as text; never a traceback or a partial write.
(The same corpus typed into the pages: tests/pages/test_bad_input_pages.py.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from tests.support.awkward_input import CORPUS, IDS
from ticketdesk.domain.accounts import Account, validate_name
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.tickets import TicketChange
from ticketdesk.queries import export
from ticketdesk.queries.ticket_table import Sort, TicketFilter
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.schema import accounts, ticket_events, tickets

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(tickets)).scalar_one(),
            conn.execute(select(func.count()).select_from(ticket_events)).scalar_one(),
        )


def account_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(accounts)).scalar_one()


@pytest.mark.parametrize(("value", "refused"), CORPUS, ids=IDS)
def test_new_ticket_text(
    engine: Engine, requester: Account, agent: Account, value: str, refused: bool
) -> None:
    if refused:
        with pytest.raises(ValidationError) as error:
            ticket_service.create_ticket(engine, requester, value, "High", NOW)
        assert str(error.value)
        assert rows(engine) == (0, 0)
    else:
        made = ticket_service.create_ticket(engine, requester, value, "High", NOW)
        assert ticket_service.list_tickets(engine, agent)[0].issue == value == made.issue
        assert rows(engine) == (1, 1)


@pytest.mark.parametrize(("value", "refused"), CORPUS, ids=IDS)
def test_table_cell_text(
    engine: Engine, requester: Account, agent: Account, value: str, refused: bool
) -> None:
    ticket = ticket_service.create_ticket(engine, requester, "before", "Low", NOW)
    if refused:
        with pytest.raises(ValidationError):
            ticket_service.update_ticket(
                engine, agent, ticket.id, TicketChange(issue=value), NOW, 1
            )
        assert ticket_service.list_tickets(engine, agent)[0].issue == "before"
        assert rows(engine) == (1, 1)
    else:
        ticket_service.update_ticket(engine, agent, ticket.id, TicketChange(issue=value), NOW, 1)
        assert ticket_service.list_tickets(engine, agent)[0].issue == value
        assert rows(engine) == (1, 2)


@pytest.mark.parametrize(("value", "refused"), CORPUS, ids=IDS)
def test_search_box_and_export_parameters(
    engine: Engine, requester: Account, agent: Account, value: str, refused: bool
) -> None:
    ticket_service.create_ticket(engine, requester, "Printer on fire", "Low", NOW)
    page = ticket_service.ticket_page(engine, agent, TicketFilter(search=value), Sort())
    # A search with no letters or digits is no search (the one ticket shows); none of the
    # corpus' words starts a word of "Printer on fire", so any other finds nothing.
    assert page.matching == (0 if re.search(r"\w", value) else 1)
    # Each parameter on its own: the search text is taken as typed unless too long; a status
    # or a date that is not one is refused with a message (an empty one means no filter).
    if len(value) > 5000:
        with pytest.raises(ValidationError, match="too long"):
            export.from_query({"q": value})
    else:
        assert export.from_query({"q": value})[0].search == value
    for name, message in (("status", "is not a status"), ("from", "is not a date")):
        if value == "":
            assert export.from_query({name: value})[0] == TicketFilter()
        else:
            with pytest.raises(ValidationError, match=message):
                export.from_query({name: value})


@pytest.mark.parametrize(("value", "refused"), CORPUS, ids=IDS)
def test_display_name(engine: Engine, agent: Account, value: str, refused: bool) -> None:
    # A person's name enters with their account and is shown in every history they make.
    blank = not value.strip()
    try:
        checked = validate_name(value)
    except ValidationError as error:
        assert str(error)
        assert not blank or str(error) == "Enter a name."
        with pytest.raises(ValidationError, match=re.escape(str(error))):
            account_service.create_account(
                engine, None, "named@example.com", value, "requester", None, NOW
            )
        assert account_count(engine) == 1  # only the `agent` fixture's
        assert rows(engine) == (0, 0)
        return
    assert not blank and checked == value.strip()
    person = account_service.create_account(
        engine, None, "named@example.com", value, "requester", None, NOW
    )
    assert person.name == checked
    made = ticket_service.create_ticket(engine, person, "Name test", "Low", NOW)
    history = ticket_service.ticket_history(engine, agent, made.id)
    assert history[0].actor == checked
    assert made.requester == checked
