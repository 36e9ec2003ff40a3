"""Paths, names and small helpers shared by the harness modules."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import CHROMIUM as CHROMIUM
from tests.support.server import CHROMIUM_ARGS as CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
JS = BENCH / "js"
WORK = BENCH / "work"
LOGS = WORK / "logs"
RESULTS = BENCH / "results"
SNAPSHOT = WORK / "snapshot"
BIN = Path(sys.executable).parent

APPS = ("ours", "baseline", "floor")
METRICS = (
    "load_grid",
    "load_charts",
    "warm_grid",
    "warm_charts",
    "warm_ticket",
    "submit",
    "edit",
    "search",
)


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


@functools.cache
def js(name: str) -> str:
    """The JavaScript of bench/js/<name>, read once per run."""
    return (JS / name).read_text()


class AppError(Exception):
    """The app showed an exception instead of its page."""


def is_timeout(exc: BaseException) -> bool:
    """Playwright's TimeoutError: an action did not finish within the per-action limit."""
    return type(exc).__name__ == "TimeoutError" and "playwright" in type(exc).__module__


@dataclass(frozen=True)
class Options:
    """What bench/run.py was asked to do (see its --help)."""

    sizes: list[int]
    repeats: int
    backend: str
    postgres_url: str
    sessions: int
    timeout: float
    warmup: int
    pause: float
    apps: list[str]
    argv: list[str] = field(default_factory=list)
