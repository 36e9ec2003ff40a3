"""SLA targets as the Settings page hands them to the services: hours as typed, by priority
name."""

from __future__ import annotations


def typed(**changes: tuple[object, object]) -> dict[str, tuple[object, object]]:
    """The default targets as typed (High 4 / 24 h, Medium 8 / 72 h, Low 24 / 168 h), with
    `changes` (e.g. Low=(0.5, "36")) in place of a priority's."""
    base: dict[str, tuple[object, object]] = {"High": (4, 24), "Medium": (8, 72), "Low": (24, 168)}
    return {**base, **changes}
