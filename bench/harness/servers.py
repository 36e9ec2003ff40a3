"""The three Streamlit servers of one N, on tests/support/server.py's StreamlitServer (the
helper the browser tests start the app with): our app from the snapshot on the seeded
database, the original design and the trivial page from bench/."""

from __future__ import annotations

from pathlib import Path

from bench.harness.common import LOGS, ROOT, SNAPSHOT
from bench.harness.databases import snapshot_env
from tests.support.server import StreamlitServer

START_TIMEOUT_S = 60.0
# Only on the loopback interface, and no usage statistics sent from the benchmark's servers.
FLAGS = ("--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false")


def desk_env(db_url: str) -> dict[str, str]:
    """The environment of our app's server: the snapshot's code on the seeded database."""
    return {
        "TICKETDESK_DATABASE_URL": db_url,
        "TICKETDESK_DEMO_TICKETS": "0",
        "PYTHONPATH": snapshot_env()["PYTHONPATH"],
    }


def app_servers(count: int, db_url: str) -> dict[str, StreamlitServer]:
    """The servers of N = `count`, not started; their logs are bench/work/logs/<N>-<app>.log
    (appended to)."""

    def server(name: str, script: str, env: dict[str, str], cwd: Path = ROOT) -> StreamlitServer:
        return StreamlitServer(
            script,
            cwd=cwd,
            log=LOGS / f"{count}-{name}.log",
            env=env,
            flags=FLAGS,
            append_log=True,
            name=f"{name} server",
        )

    return {
        "ours": server("ours", "ticket.py", desk_env(db_url), cwd=SNAPSHOT),
        "baseline": server("baseline", "bench/baseline_app.py", {"BENCH_TICKETS": str(count)}),
        "floor": server("floor", "bench/trivial_app.py", {}),
    }
