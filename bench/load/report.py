"""The report of a load run: Markdown tables (the steps, each action kind, idle pages, the
single-session reference; with several app servers, how the sessions and the CPU were spread
over them) and the JSON of every sample and phase, written to
bench/results/load-<backend>-<N>[-<K>srv]-<date>-<commit>.md and .json (and latest.load.*)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import sqlite3
from typing import Any

from bench.harness.common import RESULTS
from bench.harness.report import app_version, git_state, size_label
from bench.load.agents import KINDS, Sample
from bench.load.steps import WRITES, Phase, Result, in_phase, quantile

HOLD_RATIO = 2.0
"""A step holds while its p95 action time is within this many times the single session's."""


def result_stem(backend: str, tickets: int, started: dt.datetime, servers: int = 1) -> str:
    """load-<backend>-<N>-<date>-<commit>, with -<K>srv after N for K app servers (e.g.
    load-postgresql-1m-2srv-2026-12-10-ab12cd3), -dirty when the app's files differ from the
    commit, and -2, -3... rather than overwrite an earlier run's files."""
    state = git_state()
    commit = "nogit" if state is None else state[0] + ("-dirty" if state[1] else "")
    several = f"-{servers}srv" if servers > 1 else ""
    stem = f"load-{backend}-{size_label(tickets)}{several}-{started:%Y-%m-%d}-{commit}"
    unique, n = stem, 2
    while any((RESULTS / f"{unique}{suffix}").exists() for suffix in (".md", ".json")):
        unique, n = f"{stem}-{n}", n + 1
    return unique


def machine(backend: str, postgres_url: str) -> dict[str, str]:
    import streamlit

    info = {
        "Ticket desk": app_version(),
        "Cores": str(os.cpu_count()),
        "Python": platform.python_version(),
        "Streamlit": streamlit.__version__,
        "Database": backend,
        "Load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if backend == "sqlite":
        info["SQLite"] = sqlite3.sqlite_version
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(postgres_url)
        with engine.connect() as conn:
            info["PostgreSQL"] = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
    return info


# --------------------------------------------------------------------------- figures


def seconds(samples: list[Sample]) -> list[float]:
    return sorted(x.seconds for x in samples if x.seconds is not None)


def fmt_s(values: list[float], q: float) -> str:
    return f"{quantile(values, q):.3f}" if values else "–"


def fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return (
        "–"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else pattern.format(value)
    )


def phase(result: Result, name: str) -> Phase | None:
    return next((p for p in result.phases if p.name == name), None)


def reference(result: Result) -> float | None:
    """The single protocol session's p95 over all its actions."""
    single = phase(result, "single protocol")
    if single is None:
        return None
    values = seconds([x for x in in_phase(result.samples, single) if x.client == "protocol"])
    return quantile(values, 0.95) if values else None


def steps(result: Result) -> list[Phase]:
    return [p for p in result.phases if p.name.startswith("step ")]


def holds(result: Result) -> tuple[str, int | None]:
    """The verdict: the first step whose protocol p95 is above HOLD_RATIO times the single
    session's, as a sentence, and its session count (None if every step held)."""
    ref = reference(result)
    if ref is None:
        return "no single-session reference was measured", None
    for step in steps(result):
        inside = [x for x in in_phase(result.samples, step) if x.client == "protocol"]
        values = seconds(inside)
        failed = sum(1 for x in inside if x.outcome != "ok")
        p95 = quantile(values, 0.95) if values else math.inf
        if p95 > HOLD_RATIO * ref or failed > len(inside) / 10:
            return (
                f"It stops holding at **{step.sessions} sessions**: p95 {fmt(p95, '{:.3f}')} s "
                f"against {HOLD_RATIO:g} × the single session's {ref:.3f} s"
                + (f", {failed} of {len(inside)} actions failed" if failed else "")
                + ".",
                step.sessions,
            )
    largest = steps(result)[-1].sessions if steps(result) else 0
    return (
        f"Every step held (up to {largest} sessions, p95 within {HOLD_RATIO:g} × {ref:.3f} s).",
        None,
    )


# --------------------------------------------------------------------------- tables


def header(*columns: str) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def idle_cost(result: Result) -> float | None:
    """CPU of one idle open page, % of a core: from the largest idle window."""
    none = phase(result, "none")
    idles = [p for p in result.phases if p.name.startswith("idle ") and p.meter and p.sessions]
    if none is None or not none.meter or not idles:
        return None
    largest = max(idles, key=lambda p: p.sessions)
    return (largest.meter["server_cpu"] - none.meter["server_cpu"]) / largest.sessions


def steps_table(result: Result) -> str:
    ref = reference(result)
    none = phase(result, "none")
    base_rss = none.meter.get("rss_mb") if none else None
    lines = header(
        "Sessions (browsers)",
        "Actions",
        "Failed",
        "p50",
        "p95",
        "p95 ÷ single",
        "Actions/s (all)",
        "Server CPU, % of a core (mean / p95 of 1 s)",
        "Server CPU per action",
        "DB backends CPU %",
        "Script runs/s",
        "Server RSS",
        "MB per session",
        "Generator CPU %",
        "Loop lag p95",
        "Load avg",
        "Ramp",
    )
    for p in [x for x in result.phases if x.name.startswith(("single", "step"))]:
        inside = [x for x in in_phase(result.samples, p) if x.client == "protocol"]
        values = seconds(inside)
        failed = sum(1 for x in inside if x.outcome != "ok")
        p95 = quantile(values, 0.95) if values else None
        m = p.meter
        span = max(p.end - p.start, 1e-9)
        per_session = (
            (m["rss_mb"] - base_rss) / p.sessions
            if base_rss is not None and "rss_mb" in m and p.name.startswith("step")
            else None
        )
        label = (
            "1 (single, protocol)"
            if p.name == "single protocol"
            else (
                "1 (single, browser)"
                if p.name == "single browser"
                else f"{p.sessions} ({p.browsers})"
            )
        )
        if p.name == "single browser":
            inside = [x for x in in_phase(result.samples, p) if x.client == "browser"]
            values = seconds(inside)
            failed = sum(1 for x in inside if x.outcome != "ok")
            p95 = quantile(values, 0.95) if values else None
        protocol_row = p.name != "single browser"
        ratio = f"{p95 / ref:.2f}×" if p95 is not None and ref and protocol_row else "–"
        everyone = in_phase(result.samples, p)  # browsers' actions too
        idle = idle_cost(result)
        per_action = (
            (m["server_cpu"] - (idle or 0.0) * p.sessions) * 10 * span / len(everyone)
            if everyone and "server_cpu" in m
            else None
        )
        lines.append(
            f"| {label} | {len(inside)} | {failed} | {fmt_s(values, 0.5)} s | "
            f"{fmt(p95, '{:.3f}')} s | {ratio} | {len(everyone) / span:.2f} | "
            f"{fmt(m.get('server_cpu'))} / {fmt(m.get('server_cpu_p95'))} | "
            f"{fmt(per_action, '{:.0f}')} ms | "
            f"{fmt(m.get('db_cpu')) if result.settings.backend == 'postgresql' else '–'} | "
            f"{p.runs / span:.1f} | {fmt(m.get('rss_mb'), '{:.0f}')} MB | "
            f"{fmt(per_session, '{:.2f}')} | {fmt(m.get('generator_cpu'))} | "
            f"{p.lag_p95_ms:.0f} ms | {fmt(m.get('load1'), '{:.2f}')} | "
            + (
                f"{p.ramp_seconds:.0f} s"
                + (f", {p.ramp_failures} failed" if p.ramp_failures else "")
                if p.name.startswith("step")
                else "–"
            )
            + " |"
        )
    return "\n".join(lines)


def kinds_table(result: Result) -> str:
    lines = header(
        "Phase",
        "Action",
        "Protocol: n",
        "p50",
        "p95",
        "failed",
        "Browser: n",
        "p50 (shown)",
        "p95 (shown)",
        "p50 (run ended)",
        "failed",
    )
    for p in [x for x in result.phases if x.name.startswith(("single", "step"))]:
        inside = in_phase(result.samples, p)
        for kind in KINDS:
            proto = [x for x in inside if x.kind == kind and x.client == "protocol"]
            browser = [x for x in inside if x.kind == kind and x.client == "browser"]
            if not proto and not browser:
                continue
            pv, bv = seconds(proto), seconds(browser)
            runs = sorted(x.run for x in browser if x.run is not None)
            lines.append(
                f"| {p.name} | {kind} | {len(proto)} | {fmt_s(pv, 0.5)} | {fmt_s(pv, 0.95)} | "
                f"{sum(1 for x in proto if x.outcome != 'ok')} | {len(browser)} | "
                f"{fmt_s(bv, 0.5)} | {fmt_s(bv, 0.95)} | {fmt_s(runs, 0.5)} | "
                f"{sum(1 for x in browser if x.outcome != 'ok')} |"
            )
    return "\n".join(lines)


def idle_table(result: Result) -> str:
    none = phase(result, "none")
    if none is None or not none.meter:
        return "(not measured)"
    base = none.meter["server_cpu"]
    postgres = result.settings.backend == "postgresql"
    lines = header(
        "Open pages, idle",
        "Seconds",
        "Server CPU, % of a core",
        "Minus none",
        "Per open page, % of a core",
        "Script runs/s",
        "DB backends CPU %",
        "Server RSS",
    )
    for p in [none, *(x for x in result.phases if x.name.startswith("idle "))]:
        m = p.meter
        if not m:
            continue
        extra = m["server_cpu"] - base
        per_page = extra / p.sessions if p.sessions else None
        span = max(p.end - p.start, 1e-9)
        lines.append(
            f"| {p.sessions} | {m['seconds']:.0f} | {m['server_cpu']:.2f} | "
            f"{extra:+.2f} | {fmt(per_page, '{:.3f}')} | {p.runs / span:.1f} | "
            f"{fmt(m.get('db_cpu'), '{:.2f}') if postgres else '–'} | "
            f"{m['rss_mb']:.0f} MB |"
        )
    return "\n".join(lines)


def freshness_table(result: Result) -> str:
    lines = header(
        "Phase",
        "Changes saved",
        "Open list pages that redrew",
        "p50",
        "p95",
        "max",
        "Not redrawn by the end",
    )
    for p in [x for x in result.phases if x.name.startswith("step")]:
        changes = [
            x
            for x in in_phase(result.samples, p)
            if x.kind in WRITES and x.client == "protocol" and x.outcome == "ok"
        ]
        # Changes of the window's last 10 s may not be redrawn before the step (or run) ends.
        inside = [d for t, d in result.freshness if t is not None and p.start <= t <= p.end - 10]
        seen = sorted(d for d in inside if d is not None and d >= 0)
        lines.append(
            f"| {p.name} | {len(changes)} | {len(seen)} | {fmt_s(seen, 0.5)} | "
            f"{fmt_s(seen, 0.95)} | {fmt(seen[-1] if seen else None, '{:.3f}')} | "
            f"{sum(1 for d in inside if d is None)} |"
        )
    return "\n".join(lines)


def servers_table(result: Result) -> str:
    """Per phase: its sessions on each server (by their sticky cookies, at the window's end),
    each server's CPU and the proxy's."""
    names = list(dict.fromkeys(name for split in result.split.values() for name in split))
    count = result.settings.servers
    lines = header(
        "Phase",
        *(f"Sessions on {n}" for n in names),
        *(f"CPU app{i + 1} %" for i in range(count)),
        "Proxy CPU %",
    )
    for p in result.phases:
        split = result.split.get(p.name, {})
        lines.append(
            f"| {p.name} | "
            + " | ".join(str(split.get(n, 0)) if split else "–" for n in names)
            + (" | " if names else "")
            + " | ".join(fmt(p.meter.get(f"server_cpu_{i + 1}")) for i in range(count))
            + f" | {fmt(p.meter.get('proxy_cpu'))} |"
        )
    return "\n".join(lines)


def routing_lines(routing: dict[str, Any]) -> str:
    if not routing:
        return "(the proxy's log was not read)"
    names = list(routing["requests"])

    def each(key: str) -> str:
        return ", ".join(f"{n} {routing[key][n]}" for n in names)

    return (
        f"- Requests: {each('requests')}\n"
        f"- WebSocket opens (page loads): {each('websockets')}; "
        f"{routing['websockets_without_cookie']} without a valid sticky cookie\n"
        f"- Client addresses (one per protocol agent; the browsers share 127.0.0.1): "
        f"{each('addresses')}; protocol agents' addresses that reached more than one server: "
        f"{routing['addresses_on_several_servers']}"
    )


def servers_section(result: Result) -> str:
    if result.settings.servers == 1:
        return ""
    return (
        "## App servers\n\n"
        f"{result.settings.servers} app servers behind HAProxy (deploy/haproxy.cfg as shipped "
        "but for loopback), every agent at the proxy, keeping its sticky cookie. Sessions: "
        "the open sessions on each server at the end of the window, by the server each "
        "agent's cookie names; CPU: each server's, and the proxy's, % of one core over the "
        "window (the Steps table's server CPU and RSS are the servers' sums; the proxy's "
        "is in neither it nor the generator's).\n\n"
        f"{servers_table(result)}\n\n"
        "The proxy's log over the whole run:\n\n"
        f"{routing_lines(result.routing)}\n\n"
    )


def report(result: Result) -> str:
    s = result.settings
    several = s.servers > 1
    verdict, _ = holds(result)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine_lines = "\n".join(f"- {k}: {v}" for k, v in result.info.items())
    failures = [x for x in result.samples if x.outcome != "ok"]
    failure_lines = ""
    if failures:
        by: dict[str, int] = {}
        for x in failures:
            key = f"{x.client} {x.kind}: {x.outcome[:160]}"
            by[key] = by.get(key, 0) + 1
        top = sorted(by.items(), key=lambda kv: -kv[1])[:12]
        failure_lines = "\n\nFailed actions (most frequent first):\n\n" + "\n".join(
            f"- {n} × {what}" for what, n in top
        )
    return (
        f"# Load: {s.backend}, {s.tickets:,} tickets"
        + (f", {s.servers} app servers behind HAProxy" if several else "")
        + "\n\n"
        f"Run of {date}: `{' '.join(['bench/load_run.py', *s.argv])}`. Sessions per step "
        f"{', '.join(map(str, s.steps))} ({s.browsers} of them Chromium pages), "
        f"{s.step_seconds:.0f} s of actions per step, think time "
        f"{s.think.low:g}–{s.think.high:g} s (browsers {s.browser_think.low:g}–"
        f"{s.browser_think.high:g} s), seed {s.seed}, {s.timeout_s:.0f} s limit per action."
        + (f" {result.stopped}." if result.stopped else "")
        + f"\n\n{verdict}\n\n"
        "## Steps\n\n"
        "Protocol agents' actions (sign-in, page loads and reruns over Streamlit's WebSocket "
        "protocol), from the first request of an action to the `script_finished` of the run "
        "that answered it; the single-session rows act alone with a think time of "
        f"{s.single_think.low:g}–{s.single_think.high:g} s. CPU: the app server process"
        + (f"es (all {s.servers}, summed)" if several else "")
        + ", % of one core over the window; DB backends: the PostgreSQL backends of the app's "
        "connections; script runs: every run the protocol tabs saw end (the 3 s live-view "
        "timers' included); generator: this process with Playwright and Chromium; loop lag: "
        "how late the generator's event loop woke up (its times are that much late too). "
        "MB per session: (server RSS − RSS with no session) ÷ sessions. Server CPU per "
        "action: the window's server CPU less the idle pages' share (the largest idle "
        "window's cost per page × sessions), ÷ all actions (browsers' too): what an action "
        "costs, with what it sets off on the other pages, whatever else the machine runs.\n\n"
        f"{steps_table(result)}\n\n"
        "## Each action\n\n"
        "Seconds. Protocol: request to `script_finished`. Browser (Chromium, timed in the page "
        "by bench/js/init.js and done.js, as bench/run.py does): from the click, key press or "
        "navigation start until the result is drawn and the app is idle (shown), and until "
        "the answering run's `script_finished` reached the page (run ended).\n\n"
        f"{kinds_table(result)}\n\n"
        "## Changes seen by the other open pages\n\n"
        "For each status change or reply saved by a protocol agent: every other protocol "
        "agent's page that was open on the list, idle, and showing that ticket in its grid "
        "then (a page showing other tickets has nothing of it to show), and how long after "
        "the save "
        "that page received the ticket grid again from a run begun after the save (the save: "
        "when the saver's run began, whose callback writes first thing); pages used "
        "meanwhile are left out, and so are changes of a step's last 10 s. Seconds.\n\n"
        f"{freshness_table(result)}\n\n"
        "## Idle open pages\n\n"
        f"Signed-in Tickets pages left open, nobody acting, {s.idle_seconds:.0f} s each; "
        "the first row has none open (the same server, before any session).\n\n"
        f"{idle_table(result)}"
        f"{failure_lines}\n\n"
        f"{servers_section(result)}"
        f"## Machine\n\n{machine_lines}\n- Load average at end: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + "\n"
    )


def write(result: Result, stem: str) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = report(result)
    data = json.dumps(result.to_json(), indent=1, default=str)
    for name in (stem, "latest.load"):
        (RESULTS / f"{name}.md").write_text(text)
        (RESULTS / f"{name}.json").write_text(data)
    return text


def as_dict(result: Result) -> dict[str, Any]:
    return result.to_json()
