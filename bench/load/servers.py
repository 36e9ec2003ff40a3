"""Where the agents of bench/load_run.py go: the one app server bench/run.py starts, or with
`--servers K` K of them on one PostgreSQL database behind HAProxy, as deploy/ has it
(tests/support/cluster.py's `run_cluster` with deploy/haproxy.cfg: balancing, the sticky
cookie, health checks as shipped), and what the proxy's log says about how it spread them.

The K servers get what the single one gets (bench/harness/servers.py: the snapshot's code on
the seeded database, no usage statistics) and, like it, deliver the outbox in a thread of
their own (TICKETDESK_MAIL_IN_APP=1, run_cluster's `workers=False`): no worker processes
whose CPU the meter would leave out, and what each server does is what the single one does."""

from __future__ import annotations

import contextlib
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.common import LOGS, SNAPSHOT
from bench.harness.servers import START_TIMEOUT_S, app_servers, desk_env
from tests.support.cluster import HAPROXY, SHIPPED_CONFIG, run_cluster

HTTPLOG = re.compile(
    # HAProxy's `option httplog`: client:port [date] frontend backend/server timers status
    # bytes request-cookie response-cookie termination-state(+cookie flags) counts queues
    # "request line"
    r"^(?P<address>[0-9.]+):\d+ \[[^\]]*\] \S+ [^/\s]+/(?P<server>\S+) \S+ (?P<status>-?\d+) "
    r'\S+ \S+ \S+ (?P<state>\S{4}) .*?"(?P<method>[A-Z]+) (?P<uri>\S+)',
    re.M,
)
BROWSERS_ADDRESS = "127.0.0.1"
"""Where the Chromium pages connect from (the protocol agents each have their own)."""


@dataclass(frozen=True)
class Target:
    """What the agents open (`url`: the server's, or the proxy's) and the meter reads."""

    url: str
    server_pids: list[int]
    proxy_pid: int | None = None
    names: tuple[str, ...] = ()
    """The proxy's names of the servers (its sticky cookie's values); none for one server."""
    proxy_log: Path | None = None


def refusal(servers: int, backend: str) -> str | None:
    """Why `--servers` cannot be run so, or None."""
    if servers < 1:
        return f"--servers must be at least 1, not {servers}"
    if servers > 1 and backend != "postgresql":
        return (
            f"--servers {servers} needs --backend postgresql: several app servers share one "
            "PostgreSQL database (a SQLite file is for one server on one machine)"
        )
    return None


@contextlib.contextmanager
def app_target(servers: int, tickets: int, db_url: str) -> Iterator[Target]:
    """`servers` app servers on `db_url`, started; stopped on leaving. One: as bench/run.py
    starts it (its log bench/work/logs/<N>-ours.log). Several: behind the proxy, logs and
    haproxy.cfg in bench/work/logs/<N>-ours-<K>srv/."""
    if servers == 1:
        server = app_servers(tickets, db_url)["ours"]
        server.start(START_TIMEOUT_S)
        try:
            assert server.process is not None
            yield Target(server.url, [server.process.pid])
        finally:
            server.stop()
        return
    env = {**desk_env(db_url), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with run_cluster(
        db_url,
        LOGS / f"{tickets}-ours-{servers}srv",
        servers,
        env=env,
        cwd=SNAPSHOT,
        workers=False,
        start_timeout_s=START_TIMEOUT_S,
    ) as cluster:
        yield Target(
            cluster.url,
            cluster.server_pids,
            cluster.proxy.pid,
            tuple(cluster.names),
            cluster.proxy_log,
        )


def proxy_description(servers: int) -> str:
    """The machine-info line of a run with several servers: the proxy and how it balances."""
    version = "?"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        answer = subprocess.run([str(HAPROXY), "-v"], capture_output=True, text=True, check=True)
        version = answer.stdout.split()[2]
    balance = re.search(r"^\s*balance\s+(\S+)", SHIPPED_CONFIG.read_text(), re.M)
    return (
        f"{servers}, behind HAProxy {version} on loopback (deploy/haproxy.cfg: balance "
        f"{balance[1] if balance else '?'}, sticky cookie); each delivers the outbox itself "
        "(TICKETDESK_MAIL_IN_APP=1) as the single server does; no worker processes"
    )


def routing(log: str, names: tuple[str, ...]) -> dict[str, Any]:
    """What the proxy's log (`option httplog`) says of the run: requests, WebSocket opens
    (101 on /_stcore/stream) and client addresses per server; WebSocket opens that came
    without a valid sticky cookie (so were balanced anew); and the protocol agents' client
    addresses (each agent has its own) that reached more than one server. A WebSocket's line
    is written when it closes: read the log once the agents are gone."""
    requests: Counter[str] = Counter()
    websockets: Counter[str] = Counter()
    where: dict[str, set[str]] = {}
    unsticky = 0
    for line in HTTPLOG.finditer(log):
        server = line["server"]
        requests[server] += 1
        where.setdefault(line["address"], set()).add(server)
        if line["status"] == "101" and line["uri"].startswith("/_stcore/stream"):
            websockets[server] += 1
            # The 3rd character of the termination state: the request's persistence cookie
            # (V: valid, N: none, I: invalid, D: its server down, E: expired, O: old).
            unsticky += line["state"][2] != "V"
    every = [*names, *sorted(set(requests) - set(names))]  # <NOSRV>: refused, unrouted
    return {
        "requests": {n: requests[n] for n in every},
        "websockets": {n: websockets[n] for n in every},
        "addresses": {n: sum(1 for s in where.values() if n in s) for n in every},
        "websockets_without_cookie": unsticky,
        "addresses_on_several_servers": sum(
            1 for address, seen in where.items() if address != BROWSERS_ADDRESS and len(seen) > 1
        ),
    }
