"""HTTP routes served beside the Streamlit app (st.App in ticket.py): the CSV export, streamed
from a server-side cursor so a million rows never sit in memory."""

from __future__ import annotations

import functools

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from . import export, services
from .config import database_url
from .db import make_engine, migrate
from .domain import TicketDeskError, ValidationError


@functools.cache
def _engine(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    return engine


async def export_csv(request: Request) -> Response:
    try:
        flt, sort = export.from_query(request.query_params)
        engine = _engine(database_url())
    except ValidationError as exc:
        return PlainTextResponse(f"Cannot export: {exc}", status_code=400)
    except TicketDeskError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    # A sync iterator: Starlette pulls it in a worker thread, chunk by chunk.
    chunks = export.csv_chunks(services.export_tickets(engine, flt, sort))
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'},
    )


def routes() -> list[BaseRoute]:
    return [Route("/export.csv", export_csv, methods=["GET"])]
