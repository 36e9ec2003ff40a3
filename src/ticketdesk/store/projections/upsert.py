"""The one upsert every derived table is kept with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Table,
)
from sqlalchemy.dialects import postgresql, sqlite


def add_many(
    conn: Connection,
    table: Table,
    keys: tuple[str, ...],
    amounts: tuple[str, ...],
    rows: list[dict[str, Any]],
) -> None:
    """The same upsert for many rows, as one executemany (nothing for no rows). Rows go in
    key order, so two transactions lock the rows they share in the same order (PostgreSQL
    would otherwise find a deadlock when two tickets move opposite ways)."""
    if not rows:
        return
    rows = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: table.c[name] + statement.excluded[name] for name in amounts},
        ),
        rows,
    )
