"""A Streamlit app as a process of its own: `streamlit run <script>` on a free port with an
environment of its own, waited for until /_stcore/health answers, its memory read, and ended
with all its children.

The one copy shared by the HTTP and browser tests (tests/support/app_server.py's `run_app`)
and the benchmark (bench/harness/servers.py). Only the standard library: the benchmark imports
it without pytest.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STREAMLIT = Path(sys.executable).with_name("streamlit")
HEALTH_POLL_S = 0.2
STOP_WAIT_S = 10.0


class ServerNotReady(RuntimeError):
    """The server exited, or did not answer its health check in time. The message ends with
    the tail of its log; the server has been stopped."""


CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium: the browser tests and the benchmark drive it (no browser download)."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Headless as root, and no calls home (this machine's network is closed)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(log: Path, lines: int = 40, width: int = 300) -> str:
    try:
        return "\n".join(
            line[:width] for line in log.read_text(errors="replace").splitlines()[-lines:]
        )
    except OSError:
        return "(no log)"


@dataclass
class StreamlitServer:
    """`streamlit run <script>` from `cwd`, with `env` added to this process's environment and
    its output in `log` (truncated at each start, or appended to with `append_log`). `flags`
    are further `streamlit run` options, after the port, headless mode and no file watcher
    (Streamlit would otherwise watch the whole project, .venv included: thousands of
    directories, and react to files that other runs write there)."""

    script: str
    cwd: Path
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)
    flags: Sequence[str] = ()
    append_log: bool = False
    name: str = "streamlit"
    port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """http://127.0.0.1:<port>, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float) -> None:
        """Start the server (stopping it first if it runs) on a new free port, and return
        once it answers its health check; raise ServerNotReady otherwise."""
        self.stop()
        self.port = free_port()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(STREAMLIT),
            "run",
            self.script,
            "--server.port",
            str(self.port),
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            *self.flags,
        ]
        with self.log.open("ab" if self.append_log else "wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, ended as a whole by stop()
            )
        try:
            self._wait_healthy(self.process, timeout_s)
        except ServerNotReady:
            self.stop()
            raise

    def _wait_healthy(self, process: subprocess.Popen[bytes], timeout_s: float) -> None:
        health = f"{self.url}/_stcore/health"  # always http://127.0.0.1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ServerNotReady(
                    f"{self.name} exited with code {process.returncode} before answering:\n"
                    f"{log_tail(self.log)}"
                )
            with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2) as r:  # noqa: S310
                if r.read().decode().strip() == "ok":
                    return
            time.sleep(HEALTH_POLL_S)  # polling interval while the server starts
        raise ServerNotReady(
            f"{self.name} did not answer {health} within {timeout_s:.0f} s:\n{log_tail(self.log)}"
        )

    def rss_mb(self) -> float:
        """The server process's resident set (VmRSS), in MB (10^6 bytes)."""
        assert self.process is not None, f"{self.name} is not running"
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        assert match, "no VmRSS"
        return int(match.group(1)) * 1024 / 1e6

    def stop(self) -> None:
        """End the server's process group (SIGTERM, then SIGKILL after 10 s); a no-op when it
        is not running."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_WAIT_S)
