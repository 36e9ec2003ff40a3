"""The HTTP API under /api/v1: a channel like the pages and the command line, calling the same
services as the acting account of an API token (app.py). ticket.py mounts `routes()`."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount

from .app import PREFIX, build_app


def routes() -> list[BaseRoute]:
    return [Mount(PREFIX, app=build_app())]
