"""deploy/ without running it (tests/http/test_proxy.py and tests/e2e/test_e2e_proxy*.py run
it): the loopback configuration tests/support/cluster.py derives from deploy/haproxy.cfg keeps
everything the shipped one says but the lines it must change; the systemd units start what
the loopback runner starts, and systemd finds nothing wrong in them; the env file example
holds placeholders, not secrets, and only variables the desk reads."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.cluster import (
    PROJECT,
    ROUTE_HEADER,
    SERVER_FLAGS,
    SHIPPED_CONFIG,
    STICKY_COOKIE,
    WORKERS,
    local_config,
)
from tests.support.server import STREAMLIT
from ticketdesk.cli import build_parser

DEPLOY = PROJECT / "deploy"
UNITS = DEPLOY / "systemd"
SHIPPED = SHIPPED_CONFIG.read_text()
SERVERS = [("app1", 40001), ("app2", 40002), ("app3", 40003)]


def meaningful(config: str) -> list[str]:
    return [line.strip() for line in config.splitlines() if line.strip()[:1] not in ("", "#")]


def exec_start(unit: str) -> str:
    match = re.search(r"^ExecStart=(.+)$", (UNITS / unit).read_text(), re.M)
    assert match, f"{unit} has no ExecStart"
    return match.group(1)


@pytest.mark.parametrize("tls", [True, False])
def test_the_loopback_configuration_changes_only_what_it_must(tls: bool) -> None:
    pem = Path("/tmp/proxy.pem") if tls else None
    local = meaningful(local_config(SHIPPED, SERVERS, 40000, pem))
    shipped = meaningful(SHIPPED)
    bind = f"bind 127.0.0.1:40000 ssl crt {pem} alpn h2,http/1.1" if tls else "bind 127.0.0.1:40000"
    servers = [f"server {name} 127.0.0.1:{port} cookie {name}" for name, port in SERVERS]
    assert bind in local and set(servers) <= set(local)
    # Run as the current user in the foreground, logging to standard output: no chroot, no
    # user switch, no admin socket in /run; plain HTTP has no redirect to https.
    dropped = {
        line
        for line in shipped
        if line.split()[0] in ("chroot", "user", "group", "daemon", "bind", "server")
        or line.startswith(("stats socket", "log /dev/log", "http-request redirect"))
    }
    cookie = next(line for line in shipped if line.startswith("cookie "))
    if not tls:
        dropped.add(cookie)
        assert cookie.replace(" secure", "") in local
    kept = [line for line in shipped if line not in dropped]
    added = [line for line in local if line not in shipped]
    assert [line for line in local if line in shipped] == kept
    assert sorted(added) == sorted(
        [bind, *servers, "log stdout format raw local0"]
        + ([] if tls else [cookie.replace(" secure", "")])
    )


def test_tracing_adds_the_route_header_and_log_and_nothing_else() -> None:
    plain = meaningful(local_config(SHIPPED, SERVERS, 40000))
    traced = meaningful(local_config(SHIPPED, SERVERS, 40000, trace_cookie="session"))
    assert [line for line in traced if line not in plain] == [
        "http-request capture req.cook(session) len 12",
        "option logasap",
        'log-format "route %b/%s %ST %HM %HU session=%[capture.req.hdr(0)]"',
        f"http-response set-header {ROUTE_HEADER} %[srv_name]",
    ]
    assert [line for line in plain if line not in traced] == []


def test_the_shipped_configuration_has_what_the_app_needs() -> None:
    lines = meaningful(SHIPPED)
    assert f"cookie {STICKY_COOKIE} insert indirect nocache httponly secure" in " ".join(lines)
    for needed in (
        "http-request set-header X-Forwarded-Proto https if { ssl_fc }",
        "http-request set-header X-Forwarded-For %[src]",
        "option httpchk GET /_stcore/health",
        "option redispatch",
        "timeout tunnel 1h",
    ):
        assert needed in lines
    assert not any("Host" in line.split() for line in lines if "set-header" in line)


def test_the_units_start_what_the_loopback_runner_starts() -> None:
    app = exec_start("ticketdesk@.service")
    assert app.endswith(f"streamlit run ticket.py --server.port %i {' '.join(SERVER_FLAGS)}")
    units = ("ticketdesk-worker.service", "ticketdesk-webhooks.service")
    commands = {exec_start(unit).split()[-1] for unit in units}
    assert commands == set(WORKERS.values())
    parsers = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert commands <= set(next(parsers).choices)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_finds_nothing_wrong_in_the_units(tmp_path: Path) -> None:
    """The units with this checkout's paths (systemd checks that the programs exist) and
    root as their user (no ticketdesk user here)."""
    venv_bin = STREAMLIT.parent
    for unit in UNITS.glob("*.service"):
        text = (
            unit.read_text()
            .replace("/opt/ticketdesk/.venv/bin/", f"{venv_bin}/")
            .replace("/opt/ticketdesk", str(PROJECT))
            .replace("/etc/ticketdesk/ticketdesk.env", str(DEPLOY / "ticketdesk.env.example"))
            .replace("=ticketdesk\n", "=root\n")
        )
        (tmp_path / unit.name.replace("@.", "@8501.")).write_text(text)
    checked = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (checked.returncode, checked.stderr, checked.stdout) == (0, "", "")


def test_the_env_example_holds_placeholders_and_variables_the_desk_reads() -> None:
    text = (DEPLOY / "ticketdesk.env.example").read_text()
    settings = dict(
        line.lstrip("#").split("=", 1)
        for line in text.splitlines()
        if re.match(r"^#?[A-Z][A-Z0-9_]*=", line)
    )
    readme = (PROJECT / "README.md").read_text()
    for name in settings:
        if name.startswith("TICKETDESK_"):
            assert f"`{name}`" in readme, f"{name} is not in README.md's configuration table"
    for name in ("STREAMLIT_SERVER_COOKIE_SECRET", "FORWARDED_ALLOW_IPS"):
        assert name in settings
    for name, value in settings.items():
        password = re.search(r"://[^:/@]+:([^@]+)@", value)
        assert password is None or password.group(1) == "CHANGE-ME", name
    assert settings["STREAMLIT_SERVER_COOKIE_SECRET"] == "CHANGE-ME"
