"""The dashboard's help texts, read from docs/kpis.md, the one place the KPIs are defined.

Each KPI there is a `## Name` heading (the label the dashboard shows) followed by paragraphs;
the first paragraph is the help text of its card:
`Card("New tickets", ..., kpi_help("New tickets"))`. The file is read once per process."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

KPIS_MD = Path(__file__).resolve().parent.parent / "docs" / "kpis.md"


def parse(markdown: str) -> dict[str, str]:
    """{heading: its first paragraph, lines joined by spaces} for every `## ` heading of
    `markdown`, in order; what comes before the first one is an introduction. Raises
    ValueError for a heading that appears twice or is not followed by a paragraph."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        if line.startswith("## ") and not in_code:
            name = line[3:].strip()
            if name in sections:
                raise ValueError(f"docs/kpis.md: '## {name}' appears twice")
            current = sections[name] = []
        elif current is not None:
            current.append(line)
    return {name: _first_paragraph(name, body) for name, body in sections.items()}


def _first_paragraph(name: str, body: list[str]) -> str:
    paragraph: list[str] = []
    for line in body:
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    if not paragraph or paragraph[0].startswith(("#", "|", "```", "- ", "* ", ">")):
        raise ValueError(f"docs/kpis.md: '## {name}' is not followed by a paragraph")
    return " ".join(paragraph)


@cache
def kpi_texts() -> Mapping[str, str]:
    """Every KPI of docs/kpis.md with its help text, in the file's order."""
    return MappingProxyType(parse(KPIS_MD.read_text(encoding="utf-8")))


def kpi_help(name: str) -> str:
    """The help text of the KPI headed `## {name}` in docs/kpis.md."""
    try:
        return kpi_texts()[name]
    except KeyError:
        raise KeyError(f"docs/kpis.md has no section '## {name}'") from None
