"""The dashboard's KPI cards (app_components/kpi_cards.py): the arrow and colour of a change,
and the HTML, read back as the page tests read it."""

from __future__ import annotations

import pytest

from app_components.kpi_cards import Card, Change, cards_html, change
from tests.support.kpi_cards import read_cards


@pytest.mark.parametrize(
    ("amount", "better", "direction", "tone"),
    [
        (2, "lower", "up", "bad"),  # two more open tickets
        (-0.1, "lower", "down", "good"),  # answered 0.1 h sooner
        (5.7, "higher", "up", "good"),  # 5.7 points more deadlines met
        (-1.7, "higher", "down", "bad"),
        (-1234, None, "down", "off"),  # fewer new tickets: neither good nor bad
        (0, "lower", None, "off"),  # no change: no arrow, grey
        (0.0, "higher", None, "off"),
    ],
)
def test_a_change_has_an_arrow_by_its_sign_and_a_colour_by_which_way_is_better(
    amount: float, better: str | None, direction: str | None, tone: str
) -> None:
    moved = change(amount, "shown", better)  # type: ignore[arg-type]
    assert (moved.text, moved.direction, moved.tone) == ("shown", direction, tone)


def test_cards_read_back_as_written() -> None:
    cards = [
        Card("Open", "2", "Open now.", Change("2", "up", "bad"), "since Oct 29"),
        Card("Median (hours)", "–", "Half were faster."),
    ]
    shown = read_cards(cards_html(cards))
    assert list(shown) == ["Open", "Median (hours)"]
    opened = shown["Open"]
    assert (opened.value, opened.delta, opened.arrow, opened.tone) == ("2", "2", "↑", "bad")
    assert (opened.help, opened.against) == ("Open now.", "since Oct 29")
    median = shown["Median (hours)"]
    assert (median.value, median.delta, median.arrow, median.against) == ("–", "", "", "")


def test_everything_written_into_the_cards_is_escaped() -> None:
    name = 'Ops <img src=x onerror="alert(1)"> & "friends"'
    html = cards_html([Card(name, "<b>1</b>", f"About {name}.", Change("<i>", None, "off"))])
    assert "<img" not in html and "<b>" not in html and "<i>" not in html
    (card,) = read_cards(html).values()
    assert (card.label, card.value, card.help, card.delta) == (
        name,
        "<b>1</b>",
        f"About {name}.",
        "<i>",
    )


def test_the_grid_has_as_many_columns_as_asked() -> None:
    assert 'style="--kpi-columns:3"' in cards_html([])
    assert 'style="--kpi-columns:1"' in cards_html([], columns=1)
