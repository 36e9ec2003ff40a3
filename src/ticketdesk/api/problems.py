"""Errors as application/problem+json (RFC 9457): a type, a title, the status, and a detail
written for people; some carry extension members (the current ticket of a 412)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    503: "Service unavailable",
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body = {
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    return ProblemResponse(body, status_code=status, headers=headers)


class ApiProblem(Exception):
    """Raised inside the API to answer with a problem document."""

    def __init__(
        self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers
        self.extra = extra
