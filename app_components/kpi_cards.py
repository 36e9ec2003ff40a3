"""The dashboard's KPI cards, drawn as one block of HTML (st.html) rather than one st.metric
each.

Why: a warm Dashboard load is held to 1.25x of a floor page (issue 19), and the browser's
drawing of the ten st.metric cards was the largest cost left on it (docs/kpis.md, "Cards").
One block of plain HTML and CSS shows the same card (label, a help mark, value, a change with
its arrow and colour, and what the change is against) for almost nothing.

Everything written into the HTML is escaped here; the colours are mixed with the text colour
(`currentColor`), so the cards read in the light and the dark theme alike. Each card is a
labelled group (`role="group"`), which is how people using a screen reader, and the tests,
find it."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Literal

Tone = Literal["good", "bad", "off"]
Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Change:
    """A card's change against an earlier figure, as shown: "1,234", "-0.1", "+5.7 pp"."""

    text: str
    direction: Literal["up", "down"] | None  # None: no arrow (no change)
    tone: Tone


def change(amount: float, text: str, better: Better | None) -> Change:
    """The change `amount`, written as `text`: an arrow by its sign and a colour by whether a
    change that way is `better` ("higher", "lower"; None: neither, grey). No change has no
    arrow and is grey."""
    if amount == 0:
        return Change(text, None, "off")
    direction: Literal["up", "down"] = "up" if amount > 0 else "down"
    if better is None:
        return Change(text, direction, "off")
    good = (direction == "up") == (better == "higher")
    return Change(text, direction, "good" if good else "bad")


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    help: str
    change: Change | None = None
    against: str = ""  # what the change is measured against: "vs previous 30 days"


ARROWS = {"up": "↑", "down": "↓"}

STYLE = """<style>
.kpi-cards{display:grid;grid-template-columns:repeat(var(--kpi-columns),minmax(0,1fr));gap:1rem}
@media (max-width:640px){.kpi-cards{grid-template-columns:minmax(0,1fr)}}
.kpi{border:1px solid color-mix(in srgb,currentColor 20%,transparent);border-radius:.5rem;
 padding:calc(1rem - 1px)}
.kpi-label{font-size:.875rem;display:flex;gap:.4rem;align-items:center}
.kpi-help{position:relative;display:inline-flex;width:1rem;height:1rem;border-radius:50%;
 border:1px solid color-mix(in srgb,currentColor 45%,transparent);font-size:.7rem;
 color:color-mix(in srgb,currentColor 70%,transparent);justify-content:center;
 align-items:center;cursor:help}
.kpi-help:hover::after,.kpi-help:focus::after{content:attr(data-help);position:absolute;
 top:1.4rem;left:-1rem;z-index:10;width:18rem;padding:.5rem .75rem;border-radius:.5rem;
 background:#262730;color:#fafafa;border:1px solid rgba(250,250,250,.2);font-size:.8rem;
 line-height:1.4;text-align:left;box-shadow:0 2px 8px rgba(0,0,0,.2)}
.kpi-value{font-size:2.25rem;line-height:1.4;padding:.25rem 0}
.kpi-change{font-size:.875rem;display:flex;gap:.5rem;align-items:center}
.kpi-delta{border-radius:1rem;padding:0 .45rem;white-space:nowrap}
.kpi-good{color:color-mix(in srgb,#21c354 70%,currentColor);
 background:color-mix(in srgb,#21c354 12%,transparent)}
.kpi-bad{color:color-mix(in srgb,#ff2b2b 70%,currentColor);
 background:color-mix(in srgb,#ff2b2b 12%,transparent)}
.kpi-off{background:color-mix(in srgb,currentColor 8%,transparent)}
.kpi-against{opacity:.6}
</style>"""


def card_html(card: Card) -> str:
    label, help_text = escape(card.label), escape(card.help)
    parts = [
        f'<div class="kpi" role="group" aria-label="{label}">',
        f'<div class="kpi-label">{label}<span class="kpi-help" tabindex="0" role="note" '
        f'aria-label="{help_text}" data-help="{help_text}">?</span></div>',
        f'<div class="kpi-value">{escape(card.value)}</div>',
    ]
    if card.change is not None:
        moved = card.change
        arrow = (
            f'<span aria-hidden="true">{ARROWS[moved.direction]}</span> ' if moved.direction else ""
        )
        parts.append(
            f'<div class="kpi-change"><span class="kpi-delta kpi-{moved.tone}">{arrow}'
            f'{escape(moved.text)}</span><span class="kpi-against">{escape(card.against)}</span>'
            "</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def cards_html(cards: list[Card], columns: int = 3) -> str:
    """The cards as one block: a grid that fills the width, `columns` to a row (one to a row
    on a phone)."""
    return (
        f'{STYLE}<div class="kpi-cards" style="--kpi-columns:{columns:d}">'
        + "".join(map(card_html, cards))
        + "</div>"
    )
