"""The FastAPI application mounted at /api/v1 (ticket.py, through ticketdesk.api.routes).

Every operation calls the same service as the pages, as the account of the API token in
`Authorization: Bearer tdk_…`. The browser's session cookie is never accepted here, so there
is no cross-site request to forge. Errors are application/problem+json (problems.py)."""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse

from ticketdesk.config import api_rate_per_minute, database_url
from ticketdesk.domain import rate_limit
from ticketdesk.domain.accounts import Account, Action, PermissionDenied, SessionEnded
from ticketdesk.domain.errors import (
    DatabaseUnavailable,
    DeskBusy,
    TicketDeskError,
    TicketNotFound,
    ValidationError,
)
from ticketdesk.domain.tickets import Ticket, TicketChange, parse_ticket_code, ticket_code
from ticketdesk.services import accounts as account_service
from ticketdesk.services import dashboard as dashboard_service
from ticketdesk.services import tickets as ticket_service
from ticketdesk.services import tokens as token_service
from ticketdesk.services.tickets import PageAnchor, Sort, SortColumn, StaleTicket, TicketFilter
from ticketdesk.store.db import make_engine

from . import models
from .models import Problem
from .problems import PROBLEM_JSON, ApiProblem, problem

PREFIX = "/api/v1"
_bearer = HTTPBearer(auto_error=False, description="An API token from “Your account”.")


@functools.cache
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    return _engine(database_url())


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------ rate limit


class RateLimiter(Protocol):
    """Where a token's requests are counted (domain/rate_limit.py says why each is used)."""

    def take(self, token_id: int) -> float:
        """0 when the token's request may go, else the seconds until it could."""
        ...


class ProcessRateLimiter:
    """The buckets in this process's memory (SQLite: one app server)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[int, rate_limit.Bucket] = {}
        self._lock = threading.Lock()

    def take(self, token_id: int) -> float:
        with self._lock:
            bucket, wait = rate_limit.take(
                self._buckets.get(token_id), self.per_minute, time.monotonic()
            )
            self._buckets[token_id] = bucket
            return wait


class SharedRateLimiter:
    """The buckets in the database (PostgreSQL: every app server takes from the same one)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute

    def take(self, token_id: int) -> float:
        return token_service.take_request(engine(), token_id, self.per_minute, time.time())


def make_limiter(url: str, per_minute: int) -> RateLimiter:
    if make_url(url).get_backend_name() == "postgresql":
        return SharedRateLimiter(per_minute)
    return ProcessRateLimiter(per_minute)


# ------------------------------------------------------------------------------ who is acting


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def token_use(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> token_service.TokenUse:
    """The token's account (never the session cookie), within its rate limit."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(
            401,
            "Send an API token: Authorization: Bearer tdk_… (make one on “Your account”).",
            headers={"WWW-Authenticate": "Bearer"},
        )
    use = token_service.token_account(engine(), credentials.credentials, now())
    wait = _limiter(request).take(use.token_id)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiProblem(
            429,
            f"This token made too many requests; try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
    return use


def reader(use: Annotated[token_service.TokenUse, Depends(token_use)]) -> Account:
    return use.account


def writer(use: Annotated[token_service.TokenUse, Depends(token_use)]) -> Account:
    if use.read_only:
        raise ApiProblem(403, "This token is read-only; make one without that scope to write.")
    return use.account


Reader = Annotated[Account, Depends(reader)]
Writer = Annotated[Account, Depends(writer)]

# ------------------------------------------------------------------------------ conversions


def ticket_out(ticket: Ticket, by: Account, *, listed: bool = False) -> models.TicketOut:
    staff = by.may(Action.READ_NOTES)
    return models.TicketOut(
        id=ticket.id,
        code=ticket_code(ticket.id),
        issue=ticket.issue,
        status=ticket.status.value,
        priority=ticket.priority.value,
        created_at=ticket.created_at,
        # A requester's list must not tell when the latest internal note was written.
        updated_at=ticket.updated_at if staff or not listed else None,
        first_response_at=ticket.first_response_at,
        closed_at=ticket.closed_at,
        requester=ticket.requester,
        assignee=ticket.assignee,
        version=ticket.version if staff else None,
    )


def _ticket_id(code: str) -> int:
    try:
        return parse_ticket_code(code)
    except ValidationError:
        raise ApiProblem(
            404, f"{code[:40]!r} is not a ticket ID; IDs look like TICKET-1042."
        ) from None


def _etag(ticket: Ticket, by: Account) -> dict[str, str]:
    return {"ETag": f'"{ticket.version}"'} if by.may(Action.READ_NOTES) else {}


def _if_match(value: str | None) -> int:
    if value is None:
        raise ApiProblem(
            428,
            "Send If-Match with the ticket's version (its ETag) so that no change is lost.",
        )
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise ApiProblem(412, f"If-Match {value[:20]!r} is not a version of this ticket.")
    return int(text)


# ------------------------------------------------------------------------------ cursors

_CURSOR_TYPES: dict[SortColumn, type] = {
    SortColumn.ID: int,
    SortColumn.ISSUE: str,
    SortColumn.STATUS: int,
    SortColumn.PRIORITY: int,
    SortColumn.SUBMITTED: datetime,
}


def _fingerprint(flt: TicketFilter, sort: Sort, size: int) -> str:
    return hashlib.sha256(repr((flt, sort, size)).encode()).hexdigest()[:16]


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def make_cursor(anchor: PageAnchor, fingerprint: str) -> str:
    raw = {
        "f": fingerprint,
        "p": anchor.page,
        "a": [_encode(anchor.first[0]), anchor.first[1], _encode(anchor.last[0]), anchor.last[1]],
    }
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def read_cursor(cursor: str, fingerprint: str, sort: Sort) -> PageAnchor:
    bad = ApiProblem(400, "That cursor is not one this API gave out; start without one.")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        page, (first, first_id, last, last_id) = raw["p"], raw["a"]
        wanted = _CURSOR_TYPES[sort.column]
        if wanted is datetime:
            first, last = datetime.fromisoformat(first), datetime.fromisoformat(last)
        values_ok = all(type(v) is wanted for v in (first, last))
        ids_ok = all(type(v) is int for v in (page, first_id, last_id))
    except (ValueError, TypeError, KeyError, AttributeError):
        raise bad from None
    if not (values_ok and ids_ok) or page < 1:
        raise bad
    if raw.get("f") != fingerprint:
        raise ApiProblem(400, "That cursor belongs to another filter or sort; start again.")
    return PageAnchor(page, (first, first_id), (last, last_id))


# ------------------------------------------------------------------------------ the app

SORTS = {
    "id": SortColumn.ID,
    "issue": SortColumn.ISSUE,
    "status": SortColumn.STATUS,
    "priority": SortColumn.PRIORITY,
    "created": SortColumn.SUBMITTED,
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid token"},
    403: {"model": Problem, "description": "Not allowed for this account or token"},
    429: {"model": Problem, "description": "Rate limit; see Retry-After"},
}
_TICKET_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    404: {"model": Problem, "description": "No such ticket"},
}

# FastAPI answers 400 to a body it cannot decode (not UTF-8) before any handler runs.
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A body that cannot be read (not UTF-8)"},
    422: {"model": Problem, "description": "A body or parameter that is not valid"},
}


def build_app() -> FastAPI:
    app = FastAPI(
        title="Ticket desk API",
        version="1",
        summary="File, read and work tickets as the account of an API token.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.limiter = make_limiter(database_url(), api_rate_per_minute())
    app.openapi = functools.partial(_openapi, app)  # type: ignore[method-assign]
    _install_error_handlers(app)
    _ticket_routes(app)
    _desk_routes(app)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi(), request.scope.get("root_path", "")))

    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, saying what the API sends: every error (4xx, 5xx) is a Problem as
    application/problem+json (FastAPI would list application/json, and its own validation
    error shape for the 422s it adds, which on_invalid never sends)."""
    if app.openapi_schema is None:
        spec = FastAPI.openapi(app)
        problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in spec["paths"].values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    if status[0] in "45":
                        answer["content"] = problem_content
        schemas = spec["components"]["schemas"]
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = spec
    return app.openapi_schema


def _install_error_handlers(app: FastAPI) -> None:
    def on_problem(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return problem(exc.status, exc.detail, headers=exc.headers, **exc.extra)

    def on_desk_error(_request: Request, exc: Exception) -> Response:
        status, headers = 400, None
        if isinstance(exc, SessionEnded):
            status, headers = 401, {"WWW-Authenticate": "Bearer"}
        elif isinstance(exc, PermissionDenied):
            status = 403
        elif isinstance(exc, TicketNotFound):
            status = 404
        elif isinstance(exc, ValidationError):
            status = 422
        elif isinstance(exc, DeskBusy | DatabaseUnavailable):
            status, headers = 503, {"Retry-After": "5"}
        return problem(status, str(exc), headers=headers)

    def on_stale(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StaleTicket)
        by: Account | None = getattr(request.state, "account", None)
        current = exc.current
        body = None if by is None else ticket_out(current, by).model_dump(mode="json")
        return problem(412, str(exc), headers={"ETag": f'"{current.version}"'}, current=body)

    def on_invalid(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts = []
        for error in exc.errors()[:10]:
            where = ".".join(str(p) for p in error.get("loc", ()))
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
        return problem(422, "The request is not valid: " + "; ".join(parts))

    def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}) or None)

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(StaleTicket, on_stale)
    app.add_exception_handler(TicketDeskError, on_desk_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _ticket_routes(app: FastAPI) -> None:
    @app.get(
        "/tickets",
        response_model=models.TicketList,
        responses={
            **_ERRORS,
            400: {"model": Problem, "description": "A cursor this API did not give out"},
            422: {"model": Problem},
        },
        tags=["tickets"],
    )
    def list_tickets(
        by: Reader,
        status: Annotated[list[models.StatusName] | None, Query()] = None,
        priority: Annotated[list[models.PriorityName] | None, Query()] = None,
        search: Annotated[str, Query(max_length=200)] = "",
        assignee: Annotated[str | None, Query(max_length=100)] = None,
        unassigned: bool = False,
        submitted_from: date | None = None,
        submitted_to: date | None = None,
        sort: Annotated[str, Query(pattern="^(id|issue|status|priority|created)$")] = "id",
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> models.TicketList:
        """The ticket table's view: filters, full-text search, sort, and pages of `limit`
        tickets; follow `next_cursor` to the last matching ticket (also past a capped
        `matching`). Requesters get only their own tickets."""
        flt = TicketFilter(
            statuses=tuple(status or ()),
            priorities=tuple(priority or ()),
            submitted_from=submitted_from,
            submitted_to=submitted_to,
            search=search,
            assignee=assignee,
            unassigned=unassigned,
        )
        order_by = Sort(SORTS[sort], descending=order == "desc")
        fingerprint = _fingerprint(flt, order_by, limit)
        anchor = None if cursor is None else read_cursor(cursor, fingerprint, order_by)
        page = ticket_service.ticket_page(
            engine(),
            by,
            flt,
            order_by,
            page=1 if anchor is None else anchor.page + 1,
            anchor=anchor,
            size=limit,
        )
        # Past a capped count the pages go on from the anchor to the last match (read_page).
        return models.TicketList(
            items=[ticket_out(t, by, listed=True) for t in page.tickets],
            matching=page.matching,
            matching_is_lower_bound=page.matching_is_lower_bound,
            next_cursor=make_cursor(page.anchor, fingerprint)
            if page.more and page.anchor
            else None,
        )

    @app.post(
        "/tickets",
        status_code=201,
        response_model=models.TicketOut,
        responses={**_ERRORS, **_BODY_ERRORS},
        tags=["tickets"],
    )
    def create_ticket(body: models.NewTicket, by: Writer, response: Response) -> models.TicketOut:
        """File a ticket as the token's account (its requester)."""
        ticket = ticket_service.create_ticket(engine(), by, body.issue, body.priority, now())
        response.headers["Location"] = f"{PREFIX}/tickets/{ticket_code(ticket.id)}"
        response.headers.update(_etag(ticket, by))
        return ticket_out(ticket, by)

    @app.get(
        "/tickets/{code}",
        response_model=models.TicketDetailOut,
        responses=_TICKET_ERRORS,
        tags=["tickets"],
    )
    def get_ticket(code: str, by: Reader, response: Response) -> models.TicketDetailOut:
        """One ticket with its conversation and history, as you may see them (requesters:
        their own tickets, never internal notes). Agents get its version as the ETag."""
        detail = ticket_service.ticket_detail(engine(), by, ticket_code(_ticket_id(code)))
        response.headers.update(_etag(detail.ticket, by))
        return models.TicketDetailOut(
            ticket=ticket_out(detail.ticket, by),
            messages=[
                models.MessageOut(
                    id=m.id,
                    created_at=m.created_at,
                    author=m.author,
                    kind=m.kind.value,
                    body=m.body,
                )
                for m in detail.messages
            ],
            history=[
                models.ChangeOut(
                    occurred_at=c.occurred_at,
                    kind=c.kind.value,
                    old_value=c.old_value,
                    new_value=c.new_value,
                    actor=c.actor,
                )
                for c in detail.history
            ],
        )

    @app.patch(
        "/tickets/{code}",
        response_model=models.TicketOut,
        responses={
            **_TICKET_ERRORS,
            412: {"model": Problem, "description": "Changed since your version: `current`"},
            **_BODY_ERRORS,
            428: {"model": Problem, "description": "If-Match missing"},
        },
        tags=["tickets"],
    )
    def change_ticket(
        code: str,
        body: models.TicketPatch,
        by: Writer,
        request: Request,
        response: Response,
        if_match: Annotated[str | None, Header(description='The ETag, e.g. "3"')] = None,
    ) -> models.TicketOut:
        """Change status, priority, text or assignee (agents and admins), if the ticket is
        still at the version in If-Match; else 412 with the current ticket."""
        ticket_id = _ticket_id(code)
        if not by.may(Action.EDIT_TICKET):
            raise PermissionDenied(f"Your account ({by.role}) may not {Action.EDIT_TICKET}.")
        version = _if_match(if_match)
        given = body.model_fields_set
        change = TicketChange(
            status=body.status,
            priority=body.priority,
            issue=body.issue,
            assignee=body.assignee,
            unassign="assignee" in given and body.assignee is None,
        )
        if change.is_empty():
            raise ApiProblem(422, "Nothing to change: give status, priority, issue or assignee.")
        request.state.account = by
        ticket = ticket_service.update_ticket(
            engine(), by, ticket_id, change, now(), expected_version=version
        )
        response.headers.update(_etag(ticket, by))
        return ticket_out(ticket, by)

    @app.post(
        "/tickets/{code}/messages",
        status_code=201,
        response_model=models.TicketOut,
        responses={**_TICKET_ERRORS, **_BODY_ERRORS},
        tags=["tickets"],
    )
    def add_message(
        code: str, body: models.NewMessage, by: Writer, response: Response
    ) -> models.TicketOut:
        """Add a public reply or an internal note (agents), or a message as the requester (on
        your own ticket). Messages never conflict with edits: no If-Match."""
        ticket = ticket_service.add_message(
            engine(), by, _ticket_id(code), body.kind, body.body, now()
        )
        response.headers.update(_etag(ticket, by))
        return ticket_out(ticket, by)


def _period(figures: dashboard_service.PeriodFigures) -> models.PeriodOut:
    return models.PeriodOut(
        first=figures.period.first,
        last=figures.period.last,
        created=figures.created,
        closes=figures.closes,
        reopens=figures.reopens,
        reopen_rate=figures.reopen_rate,
        first_response_median_hours=figures.first_response_median,
        resolution_median_hours=figures.resolution_median,
    )


def _desk_routes(app: FastAPI) -> None:
    @app.get("/dashboard", response_model=models.DashboardOut, responses=_ERRORS, tags=["desk"])
    def dashboard(
        by: Reader,
        days: Annotated[int, Query(ge=1, le=3660)] = 30,
        first: date | None = None,
        last: date | None = None,
    ) -> models.DashboardOut:
        """The dashboard's figures for the `days` UTC days ending today, or first..last, with
        the period of the same length before it (agents and admins)."""
        at = now()
        period = None
        if first is not None or last is not None:
            if first is None or last is None:
                raise ApiProblem(422, "Give both first and last, or neither (then days).")
            try:
                period = dashboard_service.custom_period(at, first, last)
            except ValueError as exc:
                raise ApiProblem(422, str(exc)) from None
        board = dashboard_service.dashboard(engine(), by, at, days, period)
        return models.DashboardOut(
            current=_period(board.current),
            previous=_period(board.previous),
            open_now=board.open_now,
            open_at_period_start=board.open_at_period_start,
            open_past_target=board.open_past_target,
        )

    @app.get("/accounts", response_model=list[models.AccountOut], responses=_ERRORS, tags=["admin"])
    def accounts(by: Reader) -> list[models.AccountOut]:
        """Every account (admins)."""
        return [
            models.AccountOut(
                id=a.id,
                email=a.email,
                name=a.name,
                role=a.role.value,
                active=a.active,
            )
            for a in account_service.list_accounts(engine(), by)
        ]

    def _targets_out(stored: dict[Any, Any]) -> models.SlaTargets:
        def one(p: str) -> models.SlaTargetOut:
            t = next(v for k, v in stored.items() if k.value == p)
            return models.SlaTargetOut(
                first_response_hours=t.first_response_hours, resolution_hours=t.resolution_hours
            )

        return models.SlaTargets(High=one("High"), Medium=one("Medium"), Low=one("Low"))

    @app.get("/sla-targets", response_model=models.SlaTargets, responses=_ERRORS, tags=["admin"])
    def sla_targets(by: Reader) -> models.SlaTargets:
        """The SLA targets per priority, in hours (admins)."""
        if not by.may(Action.CHANGE_SETTINGS):
            raise PermissionDenied(f"Your account ({by.role}) may not {Action.CHANGE_SETTINGS}.")
        return _targets_out(dashboard_service.sla_targets(engine()))

    @app.put(
        "/sla-targets",
        response_model=models.SlaTargets,
        responses={**_ERRORS, **_BODY_ERRORS},
        tags=["admin"],
    )
    def set_sla_targets(body: models.SlaTargets, by: Writer) -> models.SlaTargets:
        """Replace the SLA targets (admins); deadlines met are recounted."""
        raw = {
            p: (t.first_response_hours, t.resolution_hours)
            for p, t in (("High", body.High), ("Medium", body.Medium), ("Low", body.Low))
        }
        stored = dashboard_service.save_sla_targets(engine(), by, raw)
        return _targets_out(stored)


def render_docs(spec: dict[str, Any], root: str) -> str:
    """The browsable docs: every operation of the OpenAPI document on one self-contained page
    (no scripts or styles from elsewhere: the app's Content-Security-Policy allows none)."""
    esc: Callable[[object], str] = lambda v: html.escape(str(v))  # noqa: E731
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(spec['info']['title'])}</title></head>",
        "<body style='font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto'>",
        f"<h1>{esc(spec['info']['title'])} v{esc(spec['info']['version'])}</h1>",
        f"<p>Machine-readable: <a href='{esc(root)}/openapi.json'>openapi.json</a>. ",
        "Authenticate with <code>Authorization: Bearer tdk_…</code> (a token from ",
        "“Your account”).</p>",
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            parts.append(f"<h2><code>{esc(method.upper())} {esc(root + path)}</code></h2>")
            parts.append(f"<p>{esc(op.get('description') or op.get('summary', ''))}</p>")
            params = op.get("parameters", [])
            if params:
                parts.append("<ul>")
                for p in params:
                    parts.append(
                        f"<li><code>{esc(p['name'])}</code> ({esc(p['in'])})"
                        f"{' required' if p.get('required') else ''}</li>"
                    )
                parts.append("</ul>")
            codes = ", ".join(esc(c) for c in op.get("responses", {}))
            parts.append(f"<p>Responses: {codes}</p>")
    parts.append("</body></html>")
    return "".join(parts)
