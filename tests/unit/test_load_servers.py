"""bench/load_run.py with several app servers behind the proxy (--servers): who may ask for it,
what its results are called, what the proxy's log says of the sessions' spread, the meter's
sums and the report's table of the servers; and a single server's figures as before. Figures
computed by hand; the run itself (and the agents keeping the proxy's cookie) is
tests/http/test_load_generator.py's."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from bench.load.agents import Think
from bench.load.meter import Meter, Reading
from bench.load.report import report, result_stem, servers_table
from bench.load.servers import refusal, routing
from bench.load.steps import Phase, Result, Settings
from bench.load_run import parse_args


def httplog(address: str, server: str, status: int, state: str, request: str) -> str:
    """A line of HAProxy's `option httplog` as the proxy writes it: client address and port,
    date, frontend, backend/server, timers, status, bytes, cookies captured (none),
    termination state with the persistence cookie's flags, connection counts, queues,
    request."""
    timers = "-1/-1/-1/-1/0" if server == "<NOSRV>" else "0/0/0/8/598"
    return (
        f"{address}:33869 [02/Dec/2026:11:07:48.254] desk ticketdesk/{server} {timers} "
        f'{status} 2631 - - {state} 1/1/0/0/0 0/0 "{request} HTTP/1.1"'
    )


LOG = "\n".join(
    [
        "[NOTICE]   (4242) : New worker (4243) forked",
        httplog("127.2.0.1", "app2", 200, "--NI", "GET /signin"),  # no cookie: one inserted
        httplog("127.2.0.1", "app2", 303, "--VN", "POST /signin"),  # the valid cookie
        httplog("127.2.0.1", "app2", 101, "--VN", "GET /_stcore/stream"),
        httplog("127.2.0.2", "app1", 101, "--VN", "GET /_stcore/stream"),
        httplog("127.2.0.3", "app1", 101, "--NI", "GET /_stcore/stream"),  # without it
        httplog("127.2.0.3", "app2", 200, "--VN", "GET /?ticket=TICKET-5"),
        httplog("127.0.0.1", "app1", 200, "--VN", "GET /static/js/x.js"),
        httplog("127.0.0.1", "app2", 200, "--NI", "GET /signin"),
        httplog("127.2.0.4", "<NOSRV>", 503, "SC--", "GET /"),
    ]
)


def settings(servers: int) -> Settings:
    return Settings(
        backend="postgresql",
        tickets=2000,
        steps=[4],
        step_seconds=20,
        idle_seconds=5,
        idle_at=[],
        single_seconds=15,
        think=Think(20, 60),
        single_think=Think(2, 5),
        browser_think=Think(5, 15),
        browsers=1,
        ramp_rate=5,
        timeout_s=60,
        seed=1,
        postgres_url="postgresql://postgres@127.0.0.1/test",
        keep_going=False,
        servers=servers,
    )


def test_several_servers_only_on_postgresql() -> None:
    assert refusal(1, "sqlite") is None
    assert refusal(1, "postgresql") is None
    assert refusal(2, "postgresql") is None
    why = refusal(2, "sqlite")
    assert why is not None and "--backend postgresql" in why
    assert refusal(0, "postgresql") == "--servers must be at least 1, not 0"


def test_the_command_line_refuses_several_servers_on_sqlite(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse_args([]).servers == 1
    assert parse_args(["--backend", "postgresql"]).servers == 1
    with pytest.raises(SystemExit):
        parse_args(["--servers", "2"])  # SQLite, the default backend
    assert "--servers 2 needs --backend postgresql" in capsys.readouterr().err


def test_the_results_name_the_number_of_servers() -> None:
    day = dt.datetime(2026, 12, 2, tzinfo=dt.UTC)
    commit = r"-(nogit|[0-9a-f]+(-dirty)?)(-\d+)?$"
    assert re.match(
        r"^load-postgresql-1m-2srv-2026-12-02" + commit,
        result_stem("postgresql", 1_000_000, day, 2),
    )
    assert re.match(
        r"^load-postgresql-1m-2026-12-02" + commit, result_stem("postgresql", 1_000_000, day)
    )
    assert re.match(r"^load-sqlite-2k-2026-12-02" + commit, result_stem("sqlite", 2000, day, 1))


def test_the_proxys_log_gives_each_servers_share_and_any_agent_that_left_its_server() -> None:
    assert routing(LOG, ("app1", "app2")) == {
        "requests": {"app1": 3, "app2": 5, "<NOSRV>": 1},
        "websockets": {"app1": 2, "app2": 1, "<NOSRV>": 0},
        # 127.0.0.1 (the browsers) on both servers, each protocol agent's address on one,
        # but 127.2.0.3's on two.
        "addresses": {"app1": 3, "app2": 3, "<NOSRV>": 1},
        "websockets_without_cookie": 1,
        "addresses_on_several_servers": 1,
    }
    assert routing("", ("app1", "app2"))["requests"] == {"app1": 0, "app2": 0}


def reading(at: float, cpus: tuple[float, ...], proxy: float = 0.0) -> Reading:
    return Reading(
        at=at,
        server_cpu=sum(cpus),
        server_rss=300.0,
        db_cpu=0.0,
        generator_cpu=0.0,
        machine_busy=at,
        machine_total=2 * at,
        load1=1.0,
        server_cpus=cpus if len(cpus) > 1 else (),
        proxy_cpu=proxy,
    )


def test_the_meter_sums_the_servers_and_gives_each_and_the_proxy_apart() -> None:
    meter = Meter([101, 102], proxy_pid=103)
    meter.readings = [
        reading(0.0, (1.0, 2.0), 0.5),
        reading(1.0, (1.2, 2.1), 0.55),
        reading(2.0, (1.5, 2.2), 0.6),
    ]
    window = meter.window(0.0, 2.0)
    # 0.7 s of CPU in 2 s; each second's: 0.3 s then 0.4 s.
    assert window["server_cpu"] == pytest.approx(35.0)
    assert window["server_cpu_p95"] == pytest.approx(40.0)
    assert window["server_cpu_1"] == pytest.approx(25.0)
    assert window["server_cpu_2"] == pytest.approx(10.0)
    assert window["proxy_cpu"] == pytest.approx(5.0)
    assert window["machine_busy"] == pytest.approx(50.0)


def test_one_servers_window_has_the_figures_it_always_had() -> None:
    meter = Meter([101])
    meter.readings = [reading(0.0, (1.0,)), reading(2.0, (1.4,))]
    window = meter.window(0.0, 2.0)
    assert window["server_cpu"] == pytest.approx(20.0)
    assert sorted(window) == [
        "db_cpu",
        "generator_cpu",
        "load1",
        "machine_busy",
        "rss_mb",
        "seconds",
        "server_cpu",
        "server_cpu_max",
        "server_cpu_p95",
    ]


def test_the_report_of_two_servers_names_them_and_gives_each_ones_sessions_and_cpu() -> None:
    meter = {"seconds": 5.0, "server_cpu": 0.9, "rss_mb": 600.0}
    none = Phase("none", 0, 0, 0.0, 5.0, {**meter, "server_cpu_1": 0.5, "server_cpu_2": 0.4})
    step = Phase(
        "step 4",
        4,
        1,
        10.0,
        30.0,
        {**meter, "server_cpu_1": 12.34, "server_cpu_2": 20.0, "proxy_cpu": 1.5},
    )
    result = Result(settings(2), [none, step], split={"step 4": {"app1": 1, "app2": 3}})
    assert servers_table(result).splitlines() == [
        "| Phase | Sessions on app1 | Sessions on app2 | CPU app1 % | CPU app2 % | Proxy CPU % |",
        "|---|---|---|---|---|---|",
        "| none | – | – | 0.5 | 0.4 | – |",
        "| step 4 | 1 | 3 | 12.3 | 20.0 | 1.5 |",
    ]
    text = report(result)
    assert text.startswith("# Load: postgresql, 2,000 tickets, 2 app servers behind HAProxy\n")
    assert "## App servers" in text
    assert "CPU: the app server processes (all 2, summed)" in text
    one = report(Result(settings(1), [none, step]))
    assert one.startswith("# Load: postgresql, 2,000 tickets\n")
    assert "## App servers" not in one
    assert "CPU: the app server process, % of one core" in one
    # The JSON: the split and the proxy's log with several servers only.
    assert result.to_json()["split"] == {"step 4": {"app1": 1, "app2": 3}}
    assert "split" not in Result(settings(1), [none, step]).to_json()
