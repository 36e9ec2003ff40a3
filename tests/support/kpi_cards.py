"""The dashboard's KPI cards read back from the HTML the page sends (app_components/kpi_cards.py),
as the page tests and the cards' unit tests check them."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from streamlit.testing.v1 import AppTest


@dataclass(frozen=True)
class ShownCard:
    """A KPI card as the page sent it (app_components/kpi_cards.py): text as a person reads it;
    `delta` without its arrow ("" when the card shows no change), `arrow` "↑", "↓" or ""."""

    label: str
    value: str
    help: str
    delta: str
    arrow: str
    tone: str
    against: str


FIELDS = {"kpi-value": "value", "kpi-delta": "delta", "kpi-against": "against"}
"""The classes whose text is a field of ShownCard."""


class _CardReader(HTMLParser):
    """Reads the cards of one st.html block by their classes."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, str]] = []
        self.open: list[str | None] = []  # per open tag: the field its text goes to

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        into = self.open[-1] if self.open else None
        if "kpi" in classes:
            self.cards.append(dict.fromkeys(["value", "delta", "arrow", "against"], ""))
            self.cards[-1].update(label=found.get("aria-label") or "", tone="")
        elif "kpi-help" in classes:
            self.cards[-1]["help"] = found.get("data-help") or ""
            into = "skip"
        elif found.get("aria-hidden") == "true" and into == "delta":
            into = "arrow"
        for name, field in FIELDS.items():
            if name in classes:
                into = field
        if "kpi-delta" in classes:
            self.cards[-1]["tone"] = next(c[4:] for c in classes if c != "kpi-delta")
        self.open.append(into)

    def handle_endtag(self, tag: str) -> None:
        self.open.pop()

    def handle_data(self, data: str) -> None:
        into = self.open[-1] if self.open else None
        if into and into != "skip" and self.cards:
            self.cards[-1][into] += data


def read_cards(html: str) -> dict[str, ShownCard]:
    """The KPI cards of one block of HTML, by label."""
    reader = _CardReader()
    reader.feed(html)
    cards = ({k: v.strip() for k, v in card.items()} for card in reader.cards)
    return {card["label"]: ShownCard(**card) for card in cards}


def kpi_cards(at: AppTest) -> dict[str, ShownCard]:
    """Every KPI card on the page, by label."""
    return {label: card for block in at.html for label, card in read_cards(block.value).items()}
