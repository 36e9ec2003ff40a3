"""Sign-in, roles and accounts in the pages, run headless with AppTest on a real SQLite file:
what a browser without a valid session sees, what a requester sees and may do, the admin's
People page and everyone's "Your account" page.

AppTest cannot send the session cookie; the app takes the token from session state instead
(app_components.keys.SESSION_TOKEN)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from app_components.keys import SESSION_TOKEN
from tests.support.apptest import (
    PASSWORD,
    ROOT,
    open_app,
    open_new_ticket_form,
    person,
    session_of,
    submit_new_ticket,
)
from tests.support.kpi_cards import kpi_cards
from ticketdesk.domain.accounts import (
    Account,
    Role,
    SessionEnded,
    SignInRefused,
    SignInThrottled,
)
from ticketdesk.domain.throttle import FREE_FAILURES
from ticketdesk.domain.tickets import Ticket, TicketChange
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service

SIGN_IN_PLEASE = "Please sign in."
SESSION_ENDED = "Your session has ended. Please sign in again."
NOT_YOURS = "That ticket does not exist or is not one of yours."


def clock() -> datetime:
    """The app checks sessions against the real clock."""
    return datetime.now(UTC)


def app(token: str | None, *, page: str | None = None, ticket: str | None = None) -> AppTest:
    """The app as a browser with this session token opens it (at `page`, or at one ticket),
    run without an exception."""
    at = open_app(token, page=page, ticket=ticket)
    assert not at.exception
    return at


def everything_shown(at: AppTest) -> str:
    """Every element the run sent to the browser (main area and sidebar), as text."""

    def walk(node: Any) -> Iterator[str]:
        proto = getattr(node, "proto", None)
        if proto is not None:
            yield str(proto)
        for child in getattr(node, "children", {}).values():
            yield from walk(child)

    return "\n".join([*walk(at.main), *walk(at.sidebar)])


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


def grid_codes(at: AppTest) -> set[str]:
    return set(at.data_editor[0].value["ID"])


# Without a valid session -------------------------------------------------------------------


@pytest.fixture
def filed(app_engine: Engine) -> Ticket:
    """A ticket on the desk that a browser without a session must not see."""
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    return ticket_service.create_ticket(
        app_engine, rita, "Badge reader at door 3 is dead", "High", clock()
    )


WHERE = {
    "the ticket list": {},
    "a ticket's page": {"ticket": "TICKET-1"},
    "the dashboard": {"page": "app_pages/dashboard.py"},
    "the people page": {"page": "app_pages/people.py"},
}


def assert_asked_to_sign_in(at: AppTest, message: str, ticket: Ticket) -> None:
    assert [w.value for w in at.warning] == [message]
    (link,) = at.link_button
    assert (link.value, link.proto.url) == ("Sign in", "/signin?ended=1")
    assert not at.dataframe and not at.data_editor and not kpi_cards(at)
    assert not at.text_area and not at.text_input and not at.selectbox
    shown = everything_shown(at)
    assert ticket.code not in shown and "Badge reader" not in shown
    assert "Signed in as" not in shown


@pytest.mark.parametrize("where", list(WHERE))
def test_without_a_session_the_app_asks_to_sign_in_and_shows_nothing(
    filed: Ticket, where: str
) -> None:
    at = app(None, **WHERE[where])
    assert_asked_to_sign_in(at, SIGN_IN_PLEASE, filed)


def _forged(engine: Engine, account: Account, admin: Account) -> str:
    return secrets.token_urlsafe(32)


def _expired(engine: Engine, account: Account, admin: Account) -> str:
    thirteen_hours_ago = clock() - timedelta(hours=13)  # sessions last 12 h
    return session_of(engine, account, now=thirteen_hours_ago)


def _signed_out(engine: Engine, account: Account, admin: Account) -> str:
    token = session_of(engine, account)
    account_service.sign_out(engine, token)
    return token


def _deactivated(engine: Engine, account: Account, admin: Account) -> str:
    token = session_of(engine, account)
    account_service.set_active(engine, admin, account.id, False)
    return token


@pytest.mark.parametrize(
    "make_token",
    [_forged, _expired, _signed_out, _deactivated],
    ids=["forged", "expired", "signed out", "account deactivated"],
)
@pytest.mark.parametrize("where", list(WHERE))
def test_an_invalid_session_token_is_refused_like_no_session(
    app_engine: Engine,
    filed: Ticket,
    make_token: Callable[[Engine, Account, Account], str],
    where: str,
) -> None:
    admin = person(app_engine, "Ada Admin", "admin", email="ada@example.com")
    agent = person(app_engine, "Al Agent", "agent", email="al@example.com")
    at = app(make_token(app_engine, agent, admin), **WHERE[where])
    assert_asked_to_sign_in(at, SESSION_ENDED, filed)


# A requester -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filed:
    rita: Account
    otto: Account
    al: Account  # an agent
    tickets: list[Ticket]  # Rita's, Otto's, Rita's, Al's

    @property
    def ritas_codes(self) -> set[str]:
        return {self.tickets[0].code, self.tickets[2].code}


@pytest.fixture
def two_requesters(app_engine: Engine) -> Filed:
    """Rita (two tickets) and Otto (one), and a ticket an agent filed for themselves."""
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    otto = person(app_engine, "Otto Requester", "requester", email="otto@example.com")
    al = person(app_engine, "Al Agent", "agent", email="al@example.com")
    now = clock()
    made = [
        ticket_service.create_ticket(app_engine, rita, "Printer jams on A3", "Low", now),
        ticket_service.create_ticket(
            app_engine, otto, "Otto's VPN certificate expired", "High", now
        ),
        ticket_service.create_ticket(app_engine, rita, "Second monitor stays black", "Medium", now),
        ticket_service.create_ticket(app_engine, al, "Al's own laptop battery", "Low", now),
    ]
    return Filed(rita, otto, al, made)


def test_a_requester_sees_only_their_own_tickets_and_cannot_edit_them(
    app_engine: Engine, two_requesters: Filed
) -> None:
    rita, made = two_requesters.rita, two_requesters.tickets
    at = app(session_of(app_engine, rita))
    assert grid_codes(at) == two_requesters.ritas_codes
    assert "Number of tickets: `2`" in [m.value for m in at.markdown]
    shown = everything_shown(at)
    assert "VPN certificate" not in shown and "battery" not in shown
    assert made[1].code not in shown and made[3].code not in shown
    # The whole grid is read-only for a requester (AppTest exposes the editor's config but
    # cannot apply a cell edit: seeding an edit state does not run the grid's on_change, so
    # that a write would be refused is tested at the service level, test_authorisation).
    (grid,) = at.data_editor
    assert grid.proto.disabled is True
    # No filter by assignee either: a requester sees only their own tickets anyway.
    assert "filter_who" not in [s.key for s in at.selectbox]
    assert "Signed in as **Rita Requester**  \nrequester" in [m.value for m in at.sidebar.markdown]


def test_an_agents_grid_is_editable_where_a_requesters_is_not(
    app_engine: Engine, two_requesters: Filed
) -> None:
    """The contrast to the test above: the same grid, for staff, every ticket and editable
    Issue, Status and Priority."""
    at = app(session_of(app_engine, two_requesters.al))
    assert grid_codes(at) == {t.code for t in two_requesters.tickets}
    (grid,) = at.data_editor
    assert grid.proto.disabled is False
    assert "filter_who" in [s.key for s in at.selectbox]


def test_a_requester_files_a_ticket_of_their_own(app_engine: Engine) -> None:
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    at = app(session_of(app_engine, rita))
    open_new_ticket_form(at)
    at.text_area(key="new_issue").input("Keyboard missing the letter Q")
    submit_new_ticket(at)
    assert not at.exception
    (ticket,) = ticket_service.list_tickets(app_engine, rita)
    assert (ticket.issue, ticket.requester, ticket.requester_id) == (
        "Keyboard missing the letter Q",
        "Rita Requester",
        rita.id,
    )
    assert grid_codes(at) == {ticket.code}


@pytest.mark.parametrize(
    "page", ["app_pages/dashboard.py", "app_pages/people.py", "app_pages/settings.py"]
)
def test_a_requester_has_no_dashboard_people_or_settings(
    app_engine: Engine, two_requesters: Filed, page: str
) -> None:
    # Followed as a link: the page is not among Rita's, so her ticket list opens instead.
    at = app(session_of(app_engine, two_requesters.rita), page=page)
    assert not kpi_cards(at) and not at.number_input
    assert grid_codes(at) == two_requesters.ritas_codes
    assert "otto@example.com" not in everything_shown(at)
    # Her navigation has only her tickets and her account.
    with pytest.raises(ValueError, match="Could not find a navigation page") as refused:
        at.switch_page(page)
    assert str(refused.value).endswith(
        f"Known pages: ['{ROOT / 'app_pages/tickets.py'}', '{ROOT / 'app_pages/account.py'}']."
    )
    at.switch_page("app_pages/account.py").run()
    assert not at.exception
    assert "Your account" in at.title[0].value


@pytest.fixture
def conversation(app_engine: Engine, two_requesters: Filed) -> Ticket:
    """Rita's printer ticket: a reply and an internal note by Al, who took it on, and a
    message from Rita."""
    rita, al, ticket = two_requesters.rita, two_requesters.al, two_requesters.tickets[0]
    ticket_service.add_message(
        app_engine, al, ticket.id, "reply", "Which tray do you use?", clock()
    )
    ticket_service.add_message(
        app_engine, al, ticket.id, "note", "Tray 2 roller is worn out", clock()
    )
    change = TicketChange(status="In Progress", assignee=al.name)
    ticket_service.update_ticket(app_engine, al, ticket.id, change, clock())
    ticket_service.add_message(app_engine, rita, ticket.id, "message", "Tray 2, always", clock())
    return ticket


def test_a_requesters_ticket_page_has_no_internal_notes_and_no_fields(
    app_engine: Engine,
    two_requesters: Filed,
    conversation: Ticket,
) -> None:
    rita = two_requesters.rita
    at = app(session_of(app_engine, rita), ticket=conversation.code)
    assert at.title[0].value == conversation.code
    captions = [c.value for c in at.caption]
    assert any(c.startswith("Al Agent · Public reply · ") for c in captions)
    assert any(c.startswith("Rita Requester · Requester's message · ") for c in captions)
    shown = everything_shown(at)
    assert "Tray 2 roller" not in shown
    assert "Internal note" not in shown and "internal note" not in shown
    assert "Which tray do you use?" in shown and "Tray 2, always" in shown
    # Status, priority and assignee are shown, not offered for change.
    assert not at.selectbox and "Save" not in [b.label for b in at.button]
    assert "**Status:** In Progress  \n**Priority:** Low" in [m.value for m in at.markdown]
    assert "**Assigned to:** Al Agent" in [m.value for m in at.markdown]
    # She writes as the requester, and only as that.
    kind = at.segmented_control(key="message_kind")
    assert (kind.options, kind.value, kind.proto.disabled) == (
        ["Requester's message"],
        "message",
        True,
    )
    at.text_area(key="message_body").input("It jammed again")
    button(at, "Send").click().run()
    assert not at.exception
    assert at.success[0].value == "Requester's message added."
    messages = ticket_service.ticket_detail(app_engine, rita, conversation.code).messages
    assert [(m.kind.value, m.author, m.body) for m in messages][-1] == (
        "message",
        "Rita Requester",
        "It jammed again",
    )


@pytest.mark.parametrize("which", ["Otto's", "missing"])
def test_someone_elses_ticket_is_refused_like_a_missing_one(
    app_engine: Engine, two_requesters: Filed, which: str
) -> None:
    code = two_requesters.tickets[1].code if which == "Otto's" else "TICKET-999"
    at = app(session_of(app_engine, two_requesters.rita), ticket=code)
    assert [e.value for e in at.error] == [NOT_YOURS]
    assert "VPN certificate" not in everything_shown(at)
    assert not at.text_area  # no reply box


# People (admins) ---------------------------------------------------------------------------


def test_an_agent_cannot_open_the_people_page(app_engine: Engine) -> None:
    person(app_engine, "Ada Admin", "admin", email="ada@example.com")
    al = person(app_engine, "Al Agent", "agent", email="al@example.com")
    person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    token = session_of(app_engine, al)
    # Followed as a link: not among an agent's pages, so the ticket list opens.
    at = app(token, page="app_pages/people.py")
    assert "People" not in " ".join(t.value for t in at.title)
    assert "rita@example.com" not in everything_shown(at)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/people.py")
    # And the page itself refuses, were it reached some other way.
    direct = AppTest.from_file(str(ROOT / "app_pages/people.py"), default_timeout=30)
    direct.session_state[SESSION_TOKEN] = token
    direct.run()
    assert not direct.exception
    assert [e.value for e in direct.error] == ["Your account (agent) may not manage accounts."]
    assert not direct.dataframe and not direct.text_input
    assert "rita@example.com" not in everything_shown(direct)


@pytest.fixture
def admin(app_engine: Engine) -> Account:
    return person(app_engine, "Ada Admin", "admin", email="ada@example.com")


def people_page(app_engine: Engine, admin: Account) -> AppTest:
    return app(session_of(app_engine, admin), page="app_pages/people.py")


def accounts_by_email(app_engine: Engine, admin: Account) -> dict[str, Account]:
    return {a.email: a for a in account_service.list_accounts(app_engine, admin)}


def test_an_admin_adds_an_account_whose_generated_password_signs_in(
    app_engine: Engine, admin: Account
) -> None:
    at = people_page(app_engine, admin)
    at.text_input(key="new_name").input("Nina New")
    at.text_input(key="new_email").input("nina@example.com")
    at.selectbox(key="new_role").select("agent")
    assert at.radio(key="new_way").value == "password"
    button(at, "Add").click().run()
    assert not at.exception
    notice = at.success[0].value
    found = re.fullmatch(
        r"Account made for Nina New \(agent\)\. Their password, shown only now: `([^`]+)`",
        notice,
    )
    assert found, notice
    signed = account_service.sign_in(app_engine, "nina@example.com", found[1], "test", clock())
    assert (signed.account.name, signed.account.role, signed.account.active) == (
        "Nina New",
        Role.AGENT,
        True,
    )
    # The form is ready for the next person; the table lists her.
    assert (at.text_input(key="new_name").value, at.text_input(key="new_email").value) == (
        "",
        "",
    )
    rows = at.dataframe[0].value.to_dict("records")
    assert {"Name": "Nina New", "Email": "nina@example.com", "Role": "agent", "Active": True} in (
        rows
    )


def test_a_name_in_a_notice_is_text_never_a_link(app_engine: Engine, admin: Account) -> None:
    name = "Zed [verify your login](http://evil.example/phish)"
    at = people_page(app_engine, admin)
    at.text_input(key="new_name").input(name)
    at.text_input(key="new_email").input("zed@example.com")
    at.selectbox(key="new_role").select("agent")
    button(at, "Add").click().run()
    assert not at.exception
    notice = at.success[0].value
    # The name with its Markdown escaped and its link broken by a word joiner (invisible);
    # the password still as code.
    escaped = "Zed \\[verify your login\\](http:\u2060//evil.example/phish)"
    assert re.fullmatch(
        rf"Account made for {re.escape(escaped)} \(agent\)\. "
        r"Their password, shown only now: `[^`]+`",
        notice,
    ), notice


def test_a_duplicate_email_is_refused_and_the_form_keeps_what_was_typed(
    app_engine: Engine, admin: Account
) -> None:
    person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    before = accounts_by_email(app_engine, admin)
    at = people_page(app_engine, admin)
    at.text_input(key="new_name").input("Rita Again")
    at.text_input(key="new_email").input("RITA@Example.com")
    at.selectbox(key="new_role").select("admin")
    button(at, "Add").click().run()
    assert not at.exception
    # Shown as text: a word joiner (invisible) keeps Markdown from making it a mailto link.
    assert [e.value for e in at.error] == ["RITA\u2060@Example.com already has an account."]
    assert not at.success
    assert at.text_input(key="new_name").value == "Rita Again"
    assert at.text_input(key="new_email").value == "RITA@Example.com"
    assert at.selectbox(key="new_role").value == "admin"
    assert accounts_by_email(app_engine, admin) == before


def choose(at: AppTest, account: Account) -> None:
    chooser = at.selectbox(key="person")
    chooser.select_index(chooser.options.index(f"{account.name} <{account.email}>")).run()
    assert not at.exception


def test_an_admin_deactivates_an_account_which_ends_its_sessions(
    app_engine: Engine, admin: Account
) -> None:
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    her_session = session_of(app_engine, rita)
    at = people_page(app_engine, admin)
    choose(at, rita)
    button(at, "Deactivate (ends their sessions)").click().run()
    assert not at.exception
    assert at.success[0].value == "Rita Requester is signed out and may not sign in."
    assert accounts_by_email(app_engine, admin)[rita.email].active is False
    with pytest.raises(SessionEnded):
        account_service.session_account(app_engine, her_session, clock())
    with pytest.raises(SignInRefused):
        account_service.sign_in(app_engine, rita.email, PASSWORD, "test", clock())
    assert app(her_session).warning[0].value == SESSION_ENDED


def test_after_deactivating_the_page_offers_to_reactivate(
    app_engine: Engine, admin: Account
) -> None:
    """The buttons act on the account as it is now, not as it was when it was chosen."""
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    at = people_page(app_engine, admin)
    choose(at, rita)
    button(at, "Deactivate (ends their sessions)").click().run()
    assert not at.exception
    labels = [b.label for b in at.button]
    assert "Reactivate" in labels and "Deactivate (ends their sessions)" not in labels
    button(at, "Reactivate").click().run()
    assert not at.exception
    assert at.success[0].value == "Rita Requester may sign in again."
    assert accounts_by_email(app_engine, admin)[rita.email].active is True


def test_an_admin_unlocks_an_account_that_was_told_to_wait(
    app_engine: Engine, admin: Account
) -> None:
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    for _ in range(FREE_FAILURES):
        with pytest.raises(SignInRefused):
            account_service.sign_in(app_engine, rita.email, "wrong password!", "192.0.2.9", clock())
    with pytest.raises(SignInThrottled):
        account_service.sign_in(app_engine, rita.email, PASSWORD, "192.0.2.9", clock())
    at = people_page(app_engine, admin)
    choose(at, rita)
    button(at, "Unlock (forget failed sign-ins)").click().run()
    assert not at.exception
    assert at.success[0].value == (
        "Rita Requester's 5 failed sign-in(s) are forgotten: nobody has to wait to sign in to "
        "their account."
    )
    signed = account_service.sign_in(app_engine, rita.email, PASSWORD, "192.0.2.9", clock())
    assert signed.account.id == rita.id
    button(at, "Unlock (forget failed sign-ins)").click().run()
    assert at.success[0].value == "Rita Requester had no failed sign-ins to forget."


def test_an_admin_changes_a_role_and_it_applies_at_once(app_engine: Engine, admin: Account) -> None:
    rita = person(app_engine, "Rita Requester", "requester", email="rita@example.com")
    her_browser = app(session_of(app_engine, rita))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        her_browser.switch_page("app_pages/dashboard.py")
    at = people_page(app_engine, admin)
    choose(at, rita)
    at.selectbox(key=f"person_role_{rita.id}").select("agent")
    button(at, "Set role").click().run()
    assert not at.exception
    assert at.success[0].value == "Rita Requester is now agent."
    assert accounts_by_email(app_engine, admin)[rita.email].role is Role.AGENT
    # Her next run, in the same session, is an agent's: the Dashboard among her pages, and
    # the ticket list of staff.
    her_browser.run()
    assert not her_browser.exception
    her_browser.switch_page("app_pages/dashboard.py")  # no ValueError now
    assert "filter_who" in [s.key for s in her_browser.selectbox]


def test_the_last_admin_cannot_step_down(app_engine: Engine, admin: Account) -> None:
    at = people_page(app_engine, admin)
    choose(at, admin)
    at.selectbox(key=f"person_role_{admin.id}").select("agent")
    button(at, "Set role").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Ada Admin is the last active admin; make another first."
    ]
    assert accounts_by_email(app_engine, admin)[admin.email].role is Role.ADMIN


# Your account ------------------------------------------------------------------------------

NEW_PASSWORD = "a much better passphrase"


def change_password(at: AppTest, current: str, new: str, again: str) -> None:
    at.text_input(key="current_password").input(current)
    at.text_input(key="new_password").input(new)
    at.text_input(key="repeat_password").input(again)
    button(at, "Change password").click().run()
    assert not at.exception


@pytest.fixture
def rita(app_engine: Engine) -> Account:
    return person(app_engine, "Rita Requester", "requester", email="rita@example.com")


def test_your_account_shows_who_you_are(app_engine: Engine, rita: Account) -> None:
    at = app(session_of(app_engine, rita), page="app_pages/account.py")
    assert "**Rita Requester** · rita\u2060@example.com · requester" in [
        m.value for m in at.markdown
    ]


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        ("not my password", NEW_PASSWORD, NEW_PASSWORD, "Your current password is not right"),
        (
            PASSWORD,
            NEW_PASSWORD,
            NEW_PASSWORD + "!",
            "The two new passwords differ; nothing was changed.",
        ),
        (PASSWORD, "too short", "too short", "A password needs at least 12 characters."),
    ],
    ids=["wrong current password", "new passwords differ", "new password too short"],
)
def test_a_refused_password_change_changes_nothing(
    app_engine: Engine, rita: Account, current: str, new: str, again: str, message: str
) -> None:
    elsewhere = session_of(app_engine, rita)  # another browser of hers
    at = app(session_of(app_engine, rita), page="app_pages/account.py")
    change_password(at, current, new, again)
    (error,) = at.error
    assert error.value.startswith(message)
    assert not at.success
    assert account_service.session_account(app_engine, elsewhere, clock()) == rita
    with pytest.raises(SignInRefused):
        account_service.sign_in(app_engine, rita.email, new, "test", clock())
    account_service.sign_in(app_engine, rita.email, PASSWORD, "test", clock())


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(
    app_engine: Engine, rita: Account
) -> None:
    elsewhere = session_of(app_engine, rita)  # another browser of hers, signed in before
    here = session_of(app_engine, rita)
    at = app(here, page="app_pages/account.py")
    change_password(at, PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    assert [s.value for s in at.success] == [
        "Password changed. Your other sessions (other browsers, other devices) are signed out."
    ]
    assert not at.error
    for key in ("current_password", "new_password", "repeat_password"):
        assert at.text_input(key=key).value == ""
    with pytest.raises(SessionEnded):
        account_service.session_account(app_engine, elsewhere, clock())
    assert app(elsewhere).warning[0].value == SESSION_ENDED
    # This browser carries on.
    assert account_service.session_account(app_engine, here, clock()) == rita
    at.run()
    assert not at.exception and not at.warning
    assert "Your account" in at.title[0].value
    account_service.sign_in(app_engine, rita.email, NEW_PASSWORD, "test", clock())
    with pytest.raises(SignInRefused):
        account_service.sign_in(app_engine, rita.email, PASSWORD, "test", clock())
