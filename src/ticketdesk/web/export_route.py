"""The CSV export of the table's current view, streamed from a server-side cursor so a million
rows never sit in memory. A requester's export holds only their own tickets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ticketdesk import config
from ticketdesk.domain.accounts import PermissionDenied, SessionEnded
from ticketdesk.domain.errors import TicketDeskError, ValidationError
from ticketdesk.queries import export
from ticketdesk.services import accounts as account_service
from ticketdesk.services import tickets as ticket_service

from .engine import SESSION_COOKIE, engine, now


def export_csv(request: Request) -> Response:
    """GET /export.csv?<the table's filter>: run by Starlette in a worker thread."""
    try:
        base_url = config.base_url()
    except ValueError as exc:  # a misconfigured desk: say so, not a traceback
        return PlainTextResponse(f"Cannot export: {exc}", status_code=503)
    try:
        flt, sort = export.from_query(request.query_params)
        by = account_service.session_account(engine(), request.cookies.get(SESSION_COOKIE), now())
        rows = ticket_service.export_with_files(engine(), by, flt, sort)
    except ValidationError as exc:
        return PlainTextResponse(f"Cannot export: {exc}", status_code=400)
    except SessionEnded as exc:
        return PlainTextResponse(str(exc), status_code=401)
    except PermissionDenied as exc:
        return PlainTextResponse(str(exc), status_code=403)
    except TicketDeskError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    # A sync iterator: Starlette pulls it in a worker thread, chunk by chunk.
    chunks = export.csv_chunks(rows, base_url)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'},
    )
