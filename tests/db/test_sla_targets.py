"""SLA targets stored on real databases: seeded by the migration, saved whole by admins only,
never over someone else's newer targets, and applied to the dashboard at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tests.support.sla import typed
from ticketdesk.domain.accounts import Account, PermissionDenied
from ticketdesk.domain.errors import ValidationError
from ticketdesk.domain.sla import DEFAULT_TARGETS, SlaTarget, StaleTargets
from ticketdesk.domain.tickets import Priority
from ticketdesk.queries import desk
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.store.db import read

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_the_migration_seeds_the_default_targets(engine: Engine) -> None:
    assert dashboard_service.sla_targets(engine) == DEFAULT_TARGETS


def test_saving_targets_stores_all_three_and_marks_a_change(engine: Engine, admin: Account) -> None:
    before = read(engine, desk.current_revision)
    saved = dashboard_service.save_sla_targets(
        engine, admin, typed(High=(1.5, 12), Low=(48, 240)), expected=DEFAULT_TARGETS
    )
    expected = {
        Priority.HIGH: SlaTarget(1.5, 12),
        Priority.MEDIUM: SlaTarget(8, 72),
        Priority.LOW: SlaTarget(48, 240),
    }
    assert saved == expected
    assert dashboard_service.sla_targets(engine) == expected
    assert read(engine, desk.current_revision) == before + 1  # open pages redraw


def test_refused_targets_change_nothing(engine: Engine, admin: Account, agent: Account) -> None:
    with pytest.raises(ValidationError):
        dashboard_service.save_sla_targets(engine, admin, typed(High=(1, 24), Medium=(8, 7)))
    assert dashboard_service.sla_targets(engine) == DEFAULT_TARGETS
    # Only admins change the targets: an agent's valid targets are refused too.
    with pytest.raises(PermissionDenied):
        dashboard_service.save_sla_targets(engine, agent, typed(High=(2, 24)))
    assert dashboard_service.sla_targets(engine) == DEFAULT_TARGETS


def test_targets_changed_by_someone_else_are_not_overwritten(
    engine: Engine, admin: Account
) -> None:
    shown = dashboard_service.sla_targets(engine)
    theirs = dashboard_service.save_sla_targets(engine, admin, typed(High=(2, 24)), expected=shown)
    with pytest.raises(StaleTargets) as refused:
        dashboard_service.save_sla_targets(engine, admin, typed(High=(6, 24)), expected=shown)
    assert refused.value.current == theirs
    assert "High 2 h / 24 h" in str(refused.value)
    assert dashboard_service.sla_targets(engine) == theirs
    # Saved against what is there now, it goes through.
    dashboard_service.save_sla_targets(engine, admin, typed(High=(6, 24)), expected=theirs)
    assert dashboard_service.sla_targets(engine)[Priority.HIGH] == SlaTarget(6, 24)


def test_new_targets_change_the_dashboard_at_once(
    engine: Engine, admin: Account, agent: Account, requester: Account
) -> None:
    # Low ticket filed 3 h ago, unanswered: within 24 h; past a 2 h target.
    ticket_service.create_ticket(engine, requester, "Slow printer", "Low", NOW - timedelta(hours=3))
    assert dashboard_service.dashboard(engine, agent, NOW).open_past_target == 0
    dashboard_service.save_sla_targets(engine, admin, typed(Low=(2, 168)))
    data = dashboard_service.dashboard(engine, agent, NOW)
    assert data.open_past_target == 1
    assert data.breaches[0].state.first_response.label == "breached 1 h ago"
