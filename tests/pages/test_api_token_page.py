"""API tokens on "Your account" (AppTest on a real SQLite file): made with a name, an expiry
and a scope, shown once, stored only as a hash; revoked by their owner; an admin sees and
revokes everyone's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from tests.support.apptest import open_app, person, session_of
from ticketdesk.services import tokens as token_service
from ticketdesk.store.schema import api_tokens


def _codes(at: object) -> list[str]:
    return [c.value for c in at.code]  # type: ignore[attr-defined]


def test_a_token_is_shown_once_and_stored_as_a_hash(app_engine: Engine) -> None:
    ria = person(app_engine, "Ria Requester", "requester")
    at = open_app(session_of(app_engine, ria), page="app_pages/account.py")
    at.text_input(key="api_token_name").input("monitoring")
    at.number_input(key="api_token_days").set_value(10)
    at.checkbox(key="api_token_read_only").check()
    next(b for b in at.button if b.label == "Make token").click().run()
    assert not at.exception
    shown = _codes(at)
    assert len(shown) == 1 and shown[0].startswith("tdk_")
    used = token_service.token_account(app_engine, shown[0], datetime.now(UTC))
    assert (used.account.id, used.read_only) == (ria.id, True)
    with app_engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash)).scalars().all()
    assert stored and shown[0] not in stored
    [info] = token_service.my_tokens(app_engine, ria)
    assert (info.expires_at - info.created_at).days == 10
    at.run()
    assert _codes(at) == []  # shown once
    at.button(key=f"revoke_token_{info.id}").click().run()
    assert token_service.my_tokens(app_engine, ria) == []


def test_an_admin_revokes_anyone_s_token(app_engine: Engine) -> None:
    ria = person(app_engine, "Ria Requester", "requester")
    ada = person(app_engine, "Ada Admin", "admin")
    made = token_service.create_token(app_engine, ria, "script", 5, False, datetime.now(UTC))
    at = open_app(session_of(app_engine, ada), page="app_pages/account.py")
    assert "script" in str([m.value for m in at.markdown])
    at.button(key=f"revoke_token_{made.info.id}").click().run()
    assert token_service.my_tokens(app_engine, ria) == []
