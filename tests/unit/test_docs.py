"""Docs that cannot drift: each test fails, naming the item, when something the code has is not
documented (or the docs name something the code no longer has).

- the environment variables the code reads: README.md's configuration table or
  docs/operations.md;
- the `ticketdesk` sub-commands and their options: docs/operations.md;
- the dashboard's KPIs: a section of docs/kpis.md each, which is where their help texts come
  from (app_components/kpi_help.py);
- the permissions (`Action`): the role-by-action table of docs/security.md (or operations.md),
  with the code's answer for every role;
- the relative links of README.md, docs/ and deploy/README.md: to a file that exists, and a
  heading it has.
"""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app_components.kpi_help import kpi_texts
from ticketdesk.cli import build_parser
from ticketdesk.domain.accounts import Account, Action, Role


def _root() -> Path:
    """The repository: the nearest folder above this file with a pyproject.toml (the tests
    may move into subfolders)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").exists():
            return folder
    raise AssertionError("no pyproject.toml above tests/")


ROOT = _root()
README = ROOT / "README.md"
DOCS = ROOT / "docs"
OPERATIONS_MD = DOCS / "operations.md"
SECURITY_MD = DOCS / "security.md"
PAGE_FOLDERS = ("app_pages", "app_components")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


# -- environment variables -----------------------------------------------------------------

ENV_VAR = re.compile(r"\bTICKETDESK_[A-Z0-9_]*[A-Z0-9]\b")
# src/, the pages and the entry point as the issue asks, and the tests, whose variables the
# README documents too (running `make test` on a new machine needs them).
ENV_SOURCES = [ROOT / "ticket.py", *_python_files("src", *PAGE_FOLDERS, "tests")]


def _env_vars_in_source() -> dict[str, str]:
    """{variable: where it first appears} over ENV_SOURCES."""
    found: dict[str, str] = {}
    for path in ENV_SOURCES:
        for number, line in enumerate(_read(path).splitlines(), start=1):
            for name in ENV_VAR.findall(line):
                found.setdefault(name, _where(path, number))
    return found


def _section(markdown: str, heading: str) -> str:
    """The text under `## heading`, up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"README.md has no '## {heading}' section"
    return match.group(1)


def _readme_configuration_table() -> set[str]:
    """The variables of the first column of README.md's configuration table."""
    rows = [
        line for line in _section(_read(README), "Configuration").splitlines() if line[:1] == "|"
    ]
    return {name for row in rows for name in ENV_VAR.findall(row.split("|")[1])}


ENV_VARS_USED = _env_vars_in_source()
ENV_VARS_IN_README = _readme_configuration_table()


@pytest.mark.parametrize("name", sorted(ENV_VARS_USED))
def test_environment_variable_is_documented(name: str) -> None:
    documented = ENV_VARS_IN_README | set(ENV_VAR.findall(_read(OPERATIONS_MD)))
    assert name in documented, (
        f"{name} (read at {ENV_VARS_USED[name]}) is in neither README.md's configuration "
        "table nor docs/operations.md"
    )


@pytest.mark.parametrize("name", sorted(ENV_VARS_IN_README))
def test_documented_environment_variable_is_read(name: str) -> None:
    assert name in ENV_VARS_USED, f"README.md documents {name}, which no source file reads"


# -- the ticketdesk command ----------------------------------------------------------------


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    ]


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("ticketdesk.cli.build_parser() has no sub-commands")


PARSER = build_parser()
COMMANDS = _commands(PARSER)
# (sub-command or "" for the top level, option)
OPTIONS = [("", option) for option in _options(PARSER)] + [
    (name, option) for name, sub in COMMANDS.items() for option in _options(sub)
]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cli_command_is_documented(name: str) -> None:
    assert re.search(rf"\bticketdesk {re.escape(name)}\b", _read(OPERATIONS_MD)), (
        f"`ticketdesk {name}` is not in docs/operations.md"
    )


@pytest.mark.parametrize(
    ("command", "option"), OPTIONS, ids=[f"{c} {o}".strip() for c, o in OPTIONS]
)
def test_cli_option_is_documented(command: str, option: str) -> None:
    """Shown on a line with its command, as in the usage block of docs/operations.md."""
    usage = f"ticketdesk {command}".strip()
    lines = _read(OPERATIONS_MD).splitlines()
    assert any(usage in line and option in line for line in lines), (
        f"docs/operations.md has no line showing `{usage} … {option}`"
    )


# -- KPIs ------------------------------------------------------------------------------------

KPIS = kpi_texts()
PAGE_FILES = _python_files(*PAGE_FOLDERS)
PAGE_TREES = {path: ast.parse(_read(path), str(path)) for path in PAGE_FILES}


def _calls(name: str) -> Iterator[tuple[Path, ast.Call]]:
    """The calls of a function or method `name` in the pages."""
    for path, tree in PAGE_TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = node.func
                if (isinstance(called, ast.Name) and called.id == name) or (
                    isinstance(called, ast.Attribute) and called.attr == name
                ):
                    yield path, node


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


HELP_NAMES = sorted(
    (name, _where(path, call.lineno))
    for path, call in _calls("kpi_help")
    if call.args and (name := _literal(call.args[0])) is not None
)
PAGE_STRINGS = {
    text for tree in PAGE_TREES.values() for node in ast.walk(tree) if (text := _literal(node))
}


@pytest.mark.parametrize(("name", "where"), HELP_NAMES, ids=[f"{n} @ {w}" for n, w in HELP_NAMES])
def test_kpi_help_asks_for_a_documented_kpi(name: str, where: str) -> None:
    assert name in KPIS, f'kpi_help("{name}") at {where}: docs/kpis.md has no "## {name}"'


@pytest.mark.parametrize("name", list(KPIS))
def test_documented_kpi_is_on_the_dashboard(name: str) -> None:
    """Its heading is a label of the pages (or a kpi_help argument there)."""
    assert name in PAGE_STRINGS, (
        f'docs/kpis.md defines "## {name}", which no page of {", ".join(PAGE_FOLDERS)} shows'
    )


@pytest.mark.parametrize("name", list(KPIS))
def test_kpi_help_text_is_one_short_paragraph(name: str) -> None:
    text = KPIS[name]
    assert len(text) <= 400 and text.endswith("."), (
        f'the first paragraph of "## {name}" in docs/kpis.md is the help text: one short '
        f"paragraph ending in a full stop, not {len(text)} characters ending {text[-20:]!r}"
    )
    assert "](" not in text, f'the help text of "## {name}" holds a link'


CARDS = list(_calls("Card"))


def _card_id(path: Path, call: ast.Call) -> str:
    label = _literal(call.args[0]) if call.args else None
    return f"{_where(path, call.lineno)} {label or '(label from a variable)'}"


def test_the_dashboard_has_kpi_cards() -> None:
    assert len(CARDS) >= 3, "no KPI cards (app_components/kpi_cards.Card) found in the pages"


@pytest.mark.parametrize(
    ("path", "call"), CARDS, ids=[_card_id(path, call) for path, call in CARDS]
)
def test_kpi_card_help_comes_from_kpis_md(path: Path, call: ast.Call) -> None:
    """A Card's help (its third argument) is, or begins with, kpi_help(...): docs/kpis.md."""
    helps = [k.value for k in call.keywords if k.arg == "help"] + call.args[2:3]
    from_docs = [
        node
        for value in helps
        for node in ast.walk(value)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "kpi_help"
    ]
    assert from_docs, f"the KPI card at {_card_id(path, call)} takes no help from kpi_help(...)"


# -- permissions -----------------------------------------------------------------------------

ROLES = [role.value for role in Role]
SEPARATOR = re.compile(r"^:?-+:?$")


def _permission_rows() -> dict[str, dict[str, str]]:
    """{first cell: {role: cell}} of every table whose header names every role, in
    docs/security.md and docs/operations.md."""
    rows: dict[str, dict[str, str]] = {}
    for path in (SECURITY_MD, OPERATIONS_MD):
        header: list[str] | None = None
        for line in _read(path).splitlines():
            if not line.startswith("|"):
                header = None
                continue
            cells = [cell.strip().strip("`*") for cell in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif all(role in header for role in ROLES) and not all(
                SEPARATOR.match(cell) for cell in cells
            ):
                rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=False))
    return rows


PERMISSION_ROWS = _permission_rows()


@pytest.mark.parametrize("action", list(Action), ids=[action.name for action in Action])
def test_permission_is_documented(action: Action) -> None:
    row = PERMISSION_ROWS.get(action.value)
    assert row is not None, (
        f'no row "{action.value}" in the role × action table of docs/security.md'
    )
    for role in Role:
        may = Account(0, "someone@example.com", "Someone", role).may(action)
        shown = row.get(role.value) == "✓"
        assert shown == may, (
            f"docs/security.md says {role.value} {'may' if shown else 'may not'} "
            f'"{action.value}"; the code says {"yes" if may else "no"}'
        )


@pytest.mark.parametrize("row", sorted(PERMISSION_ROWS))
def test_documented_permission_exists(row: str) -> None:
    assert row in {action.value for action in Action}, (
        f'the role × action table names "{row}", which is no Action of the code'
    )


# -- links -----------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")
MARKDOWN_FILES = [README, *sorted(DOCS.glob("*.md")), ROOT / "deploy" / "README.md"]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(line.lstrip("#")) for line in _read(path).splitlines() if line.startswith("#")}


LINKS = sorted(
    {
        (path, target)
        for path in MARKDOWN_FILES
        for target in LINK.findall(_read(path))
        if not re.match(r"[a-z]+:", target)  # http:, https:, mailto:
    }
)


@pytest.mark.parametrize(
    ("path", "target"), LINKS, ids=[f"{p.relative_to(ROOT)} -> {t}" for p, t in LINKS]
)
def test_link_resolves(path: Path, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    linked = (path.parent / file_part).resolve() if file_part else path
    assert linked.exists(), f"{path.relative_to(ROOT)} links to {target}: no such file"
    if anchor:
        assert anchor in _anchors(linked), (
            f"{path.relative_to(ROOT)} links to {target}: no such heading"
        )
