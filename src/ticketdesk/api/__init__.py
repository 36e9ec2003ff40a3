"""The HTTP API under /api/v1: a channel like the pages and the command line, calling the same
services as the acting account of an API token (app.py). ticket.py mounts `routes()`."""

from __future__ import annotations

import re

from starlette.routing import BaseRoute, Mount

from .app import PREFIX, build_app


def routes() -> list[BaseRoute]:
    mount = Mount(PREFIX, app=build_app())
    # Starlette's `.*` stops at a newline, so a path with %0A in it fell past the API to the
    # outer text/plain 404: match it too, so every answer under /api/v1 is the API's own.
    mount.path_regex = re.compile(mount.path_regex.pattern, re.DOTALL)
    return [mount]
