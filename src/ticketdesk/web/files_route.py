"""GET /files/<id>/<name>: an attachment, to whoever may read its message, streamed from the
file store in chunks (with single Range requests), and never run by the browser: downloads
for everything but raster images, the type the desk found in the content, `nosniff`, and a
policy that sandboxes whatever the browser does open. The name in the path is only for the
browser's save dialog; the ID decides."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from ticketdesk.domain.accounts import SessionEnded
from ticketdesk.domain.errors import FileNotFound, TicketDeskError
from ticketdesk.domain.files import file_url as file_url
from ticketdesk.services import accounts as account_service
from ticketdesk.services import files as file_service

from .engine import SESSION_COOKIE, engine, now

FILES_PATH = "/files/{file_id:int}/{name:str}"
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
"""Nothing runs and nothing loads: an image shows, any other document is inert."""
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _disposition(name: str, inline: bool) -> str:
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single `bytes=` range, clipped to the file; None: unsatisfiable.
    Raises ValueError for a header this route does not serve ranges for (several ranges):
    the whole file is sent then, as HTTP allows."""
    match = _RANGE.match(header.strip())
    if match is None:
        raise ValueError(header)
    first, last = match.groups()
    if not first and not last:
        raise ValueError(header)
    if not first:  # the last N bytes
        count = int(last)
        return None if count == 0 or size == 0 else (max(0, size - count), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


def serve_file(request: Request) -> Response:
    """Run by Starlette in a worker thread; the body is pulled chunk by chunk."""
    try:
        by = account_service.session_account(engine(), request.cookies.get(SESSION_COOKIE), now())
        found = file_service.open_file(engine(), by, int(request.path_params["file_id"]))
    except SessionEnded as exc:
        return PlainTextResponse(str(exc), status_code=401)
    except FileNotFound as exc:
        return PlainTextResponse(str(exc), status_code=404)
    except TicketDeskError as exc:
        return PlainTextResponse(str(exc), status_code=503)
    file = found.attachment
    headers = {
        "Content-Disposition": _disposition(file.name, file.inline),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_POLICY,
        "Cache-Control": "private, no-cache",
        "Accept-Ranges": "bytes",
        "ETag": f'"{file.sha256}"',
    }
    wanted = request.headers.get("range")
    start, end = 0, file.size - 1
    status = 200
    if wanted and request.headers.get("if-range", f'"{file.sha256}"') == f'"{file.sha256}"':
        try:
            span = _byte_range(wanted, file.size)
        except ValueError:
            span = (0, file.size - 1) if file.size else None
        else:
            if span is None:
                return PlainTextResponse(
                    "That range is not in the file.",
                    status_code=416,
                    headers={**headers, "Content-Range": f"bytes */{file.size}"},
                )
            status = 206
            headers["Content-Range"] = f"bytes {span[0]}-{span[1]}/{file.size}"
        if span is not None:
            start, end = span
    headers["Content-Length"] = str(max(0, end - start + 1))
    body = found.chunks(start, end) if file.size else iter(())
    if request.method == "HEAD":
        body = iter(())
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type=file.content_type
    )
