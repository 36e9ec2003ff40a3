"""Sessions the sign-in middleware found valid in the last moments, so that the burst of
Streamlit's static files of a cold page load (some 130 scripts, styles and fonts, the same
in every Streamlit install) costs no database read each; the page itself, host-config, the
WebSocket handshake, the export and media files are still checked in the database every time.

Kept in this process only, for CHECK_SECONDS (shorter than the live view's 3 s: a page never
learns of a session's end later than it would without this), at most MAX_KEPT of them, and
dropped at once when the session is signed out through this process. Only the hash of a
token is kept. A session ended elsewhere (another server, an admin's deactivation, a
password change) can fetch static files for at most CHECK_SECONDS more, and nothing else."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

CHECK_SECONDS = 2.0
MAX_KEPT = 1024

_lock = threading.Lock()
_valid_until: OrderedDict[str, float] = OrderedDict()


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def recently_valid(token: str | None) -> bool:
    """Whether the session with this token was found valid less than CHECK_SECONDS ago."""
    if not token:
        return False
    key, now = _key(token), time.monotonic()
    with _lock:
        until = _valid_until.get(key)
        if until is None:
            return False
        if until <= now:
            del _valid_until[key]
            return False
        return True


def remember(token: str) -> None:
    """The session with this token was just found valid in the database."""
    key = _key(token)
    with _lock:
        _valid_until[key] = time.monotonic() + CHECK_SECONDS
        _valid_until.move_to_end(key)
        while len(_valid_until) > MAX_KEPT:
            _valid_until.popitem(last=False)


def forget(token: str | None) -> None:
    """The session with this token ends (signed out here): ask the database next time."""
    if token:
        with _lock:
            _valid_until.pop(_key(token), None)


def forget_all() -> None:
    with _lock:
        _valid_until.clear()
