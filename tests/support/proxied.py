"""The deploy/ recipe for the tests (tests/http/test_proxy.py, tests/e2e/test_e2e_proxy.py):
tests/support/cluster.py's app servers behind HAProxy on a PostgreSQL schema of their own, and
the desk as tests/support/app_server.py's AppServer at the proxy's address, so the tests make
their people and sessions as everywhere else. Skipped, saying why, without haproxy or
without a test PostgreSQL."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import databases
from tests.support.app_server import ARTIFACTS, SERVER_START_TIMEOUT_S, AppServer
from tests.support.cluster import Cluster, haproxy_missing, run_cluster
from tests.support.server import ServerNotReady
from ticketdesk.store.db import make_engine
from ticketdesk.web.engine import SESSION_COOKIE


@dataclass(frozen=True)
class ProxiedDesk:
    cluster: Cluster
    app: AppServer
    """The desk as the browsers reach it: url is the proxy's, log the proxy's."""


def skip_unless_possible() -> None:
    if why := haproxy_missing():
        pytest.skip(f"the proxy tests need haproxy: {why}")
    if not databases.POSTGRES_URL:
        pytest.skip("the proxy tests run on PostgreSQL: TICKETDESK_TEST_POSTGRES_URL unset")


@contextlib.contextmanager
def run_proxied(
    workdir: Path,
    count: int = 2,
    live_seconds: int = 1,
    *,
    tls: bool = True,
    demo_tickets: int = 0,
) -> Iterator[ProxiedDesk]:
    """`count` app servers on a new PostgreSQL schema behind the proxy, over https (the
    proxy's self-signed certificate in cluster.certificate; plain http with `tls=False`),
    whose live view reads the desk every `live_seconds` besides hearing announcements, with
    `demo_tickets` demo tickets (and the demo accounts, when more than 0); the proxy's log
    traces each request's server and the first characters of its desk session cookie
    (Cluster.routes)."""
    skip_unless_possible()
    env = {
        "TICKETDESK_DEMO_TICKETS": str(demo_tickets),
        "TICKETDESK_LIVE_SECONDS": str(live_seconds),
    }
    with databases.postgres_schema("proxy") as url, contextlib.ExitStack() as stack:
        # Kept with the screenshots (pytest's temporary directories are soon recycled), once
        # every process has stopped.
        stack.callback(_keep_logs, workdir)
        try:
            cluster = stack.enter_context(
                run_cluster(
                    url,
                    workdir,
                    count,
                    env=env,
                    tls=tls,
                    trace_cookie=SESSION_COOKIE,
                    start_timeout_s=SERVER_START_TIMEOUT_S,
                )
            )
        except ServerNotReady as exc:
            pytest.fail(str(exc), pytrace=False)
        engine = make_engine(url)
        stack.callback(engine.dispose)
        yield ProxiedDesk(cluster, AppServer(cluster.url, url, cluster.proxy_log, engine))


def _keep_logs(workdir: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for kept in [*workdir.glob("*.log"), *workdir.glob("haproxy.cfg")]:
        shutil.copyfile(kept, ARTIFACTS / f"{workdir.name}-{kept.name}")
