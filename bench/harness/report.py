"""The report of a run: the Markdown tables of medians and ratios, the machine's description,
and the files in bench/results/ (<backend>-<sizes>-<date>-<commit>.md and .json, and the same
as latest.md and latest.json)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import sqlite3
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench.harness.common import APPS, METRICS, RESULTS, ROOT, Options

APP_PARTS = ("ticket.py", "app_pages", "app_components", "src")  # the app's code, for git status

METRIC_TITLES = {
    "load_grid": "Page load until the grid is drawn (ours: Tickets page)",
    "load_charts": "Page load until both charts are drawn (ours: Dashboard page)",
    "warm_grid": "Warm page load until the grid is drawn (ours: Tickets page)",
    "warm_charts": "Warm page load until both charts are drawn (ours: Dashboard page)",
    "warm_ticket": "Warm page load of one ticket (trivial: until its page is done)",
    "submit": "Submit a ticket, until shown",
    "edit": "Edit a Status cell, until saved and redrawn",
    "search": "Search, until results shown",
    "memory": "Server memory per extra open session (MB)",
}
SHORT_TITLES = {
    "load_grid": "Page load (grid)",
    "load_charts": "Page load (charts)",
    "warm_grid": "Warm load (grid)",
    "warm_charts": "Warm load (charts)",
    "warm_ticket": "Warm load (ticket)",
    "submit": "Submit",
    "edit": "Edit",
    "search": "Search",
}
TARGET_RATIO = 1.5
TARGET_RATIOS = {"warm_grid": 1.25, "warm_charts": 1.25, "warm_ticket": 1.25}
"""Warm full-page loads (issue 19): within 1.25x of the floor, on both backends."""
TARGET_MEMORY_MB = 5.0

Results = dict[int, dict[str, Any]]  # {N: {app: samples, or "error": why this N failed}}


# --------------------------------------------------------------------------- figures


def median(samples: list[Any]) -> float | str | None:
    """Median seconds; a timeout counts as infinitely slow; 'n/a' if never applicable."""
    if samples and all(s == "n/a" for s in samples):
        return "n/a"
    if samples and all(s == "error" for s in samples):
        return "error"
    values = [math.inf if s is None else s for s in samples if isinstance(s, float | int | None)]
    if not values:
        return None
    return statistics.median(values)


def fmt_seconds(value: float | str | None, timeout: float) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if math.isinf(value):
        return f">{timeout:.0f} s"
    return f"{value:.2f} s"


def fmt_memory(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def ratio(a: float | str | None, b: float | str | None, floor: float = 0.0) -> float | None:
    if not isinstance(a, float | int) or not isinstance(b, float | int):
        return None
    if math.isinf(a) or math.isinf(b) or b <= floor:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


# --------------------------------------------------------------------------- tables


def table(all_results: Results, timeout: float) -> str:
    head = (
        "| N | Measurement | Ticket desk | Original design | Trivial page | "
        "Ours ÷ trivial | Ours ÷ original | Original ÷ trivial | Target |"
    )
    lines = [head, "|" + "---|" * 9]
    for count, results in all_results.items():
        get = results.get
        for metric in (*METRICS, "memory"):
            if metric == "memory":
                vals = {a: (get(a) or {}).get("memory", {}).get("mb_per_session") for a in APPS}
                cells = [fmt_memory(vals[a]) for a in APPS]
                target = vals["ours"] is not None and vals["ours"] < TARGET_MEMORY_MB
                target_text = f"< {TARGET_MEMORY_MB:.0f} MB: " + ("met" if target else "missed")
                r_floor = ratio(vals["ours"], vals["floor"], floor=1.0)
                r_base = ratio(vals["ours"], vals["baseline"], floor=1.0)
                r_bf = ratio(vals["baseline"], vals["floor"], floor=1.0)
            else:
                vals = {a: median((get(a) or {}).get(metric, [])) for a in APPS}
                cells = [fmt_seconds(vals[a], timeout) for a in APPS]
                r_floor = ratio(vals["ours"], vals["floor"])
                r_base = ratio(vals["ours"], vals["baseline"])
                r_bf = ratio(vals["baseline"], vals["floor"])
                if vals["ours"] == "n/a":
                    target_text = "–"
                elif r_floor is None:
                    target_text = "missed" if vals["ours"] is not None else "–"
                else:
                    goal = TARGET_RATIOS.get(metric, TARGET_RATIO)
                    met = r_floor <= goal
                    target_text = f"≤ {goal}× trivial: " + ("met" if met else "missed")
            lines.append(
                f"| {count:,} | {METRIC_TITLES[metric]} | "
                + " | ".join(cells)
                + f" | {fmt_ratio(r_floor)} | {fmt_ratio(r_base)} | {fmt_ratio(r_bf)}"
                + f" | {target_text} |"
            )
    return "\n".join(lines)


def script_table(all_results: Results) -> str:
    """Medians of how long the action's script run took, from its new_session message to its
    script_finished message as they reached the page."""
    lines = [
        "| N | Measurement | Ticket desk | Original design | Trivial page |",
        "|---|---|---|---|---|",
    ]
    for count, results in all_results.items():
        for metric in METRICS:
            cells = []
            for a in APPS:
                spans = (results.get(a) or {}).get("script_runs", {}).get(metric, [])
                runs = [end - start for start, end in (x for x in spans if x)]
                cells.append(f"{statistics.median(runs):.2f} s" if runs else "–")
            title = SHORT_TITLES[metric]
            lines.append(f"| {count:,} | {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the machine


def git_state() -> tuple[str, list[str]] | None:
    """The commit checked out (short hash) and the app's files that differ from it; None
    without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", *APP_PARTS],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return None
    return head, [line[3:] for line in changed if line.strip()]


def app_version() -> str:
    """The commit measured, and whether the app's files differ from it."""
    state = git_state()
    if state is None:
        return "unknown (no git)"
    head, files = state
    return head + (f" + uncommitted changes in {', '.join(files)}" if files else "")


def machine(options: Options, browser_version: str) -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        if found := re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()):
            ram = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB"
    import streamlit

    info = {
        "Ticket desk": app_version(),
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "Streamlit": streamlit.__version__,
        "Chromium": browser_version,
        "Database": options.backend,
        "Load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    if options.backend == "sqlite":
        info["SQLite"] = sqlite3.sqlite_version
    else:
        from sqlalchemy import create_engine, text

        engine = create_engine(options.postgres_url)
        with engine.connect() as conn:
            info["PostgreSQL"] = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
    return info


# --------------------------------------------------------------------------- the files


def size_label(count: int) -> str:
    """1000000 -> 1m, 10000 -> 10k, 2500 -> 2500: N as the results' file names write it."""
    if count % 1_000_000 == 0:
        return f"{count // 1_000_000}m"
    if count % 1000 == 0:
        return f"{count // 1000}k"
    return str(count)


def result_stem(options: Options, started: dt.datetime) -> str:
    """The name of a run's files in bench/results/: <backend>-<sizes>-<date>-<commit>, e.g.
    sqlite-1m-2026-11-29-2b015f7 or sqlite-10k-100k-1m-2026-11-29-c6d6b21; `-dirty` when the
    app's files differ from the commit, and `-2`, `-3`... rather than overwrite an earlier
    run's files."""
    state = git_state()
    commit = "nogit" if state is None else state[0] + ("-dirty" if state[1] else "")
    sizes = "-".join(size_label(n) for n in options.sizes)
    stem = f"{options.backend}-{sizes}-{started:%Y-%m-%d}-{commit}"
    unique, n = stem, 2
    while any((RESULTS / f"{unique}{suffix}").exists() for suffix in (".md", ".json")):
        unique, n = f"{stem}-{n}", n + 1
    return unique


def report(all_results: Results, info: dict[str, str], options: Options) -> str:
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine_lines = "\n".join(f"- {k}: {v}" for k, v in info.items())
    return (
        f"Benchmark of {date}: `{' '.join(['bench/run.py', *options.argv])}`; medians of "
        f"{options.repeats} repeats, each in a fresh browser context; {options.sessions} extra "
        f"sessions for memory; {options.timeout:.0f} s limit per action; each action "
        f"{options.pause:g} s after the page was done with the one before.\n\n"
        f"{table(all_results, options.timeout)}\n\n"
        "Times run inside the page, from navigation start (loads) or from the click / key "
        "press that triggers the action, until its result is drawn and the app is idle. "
        "The targets apply to our app at 1,000,000 tickets, the warm loads' (1.25×) on both "
        "backends.\n\n"
        "Of which the app's script run, as the browser saw it (from the first message of the "
        "run to its script_finished message: the server's work and sending its output; the "
        "rest of each time above is the browser's, or waiting for the run to start):\n\n"
        f"{script_table(all_results)}\n\n"
        f"Machine:\n\n{machine_lines}\n"
    )


def write_results(all_results: Results, info: dict[str, str], options: Options, stem: str) -> str:
    """Write the report to bench/results/<stem>.md and the raw samples to <stem>.json, and
    both again as latest.md and latest.json; returns the report."""
    text = report(all_results, info, options)
    raw = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "argv": options.argv,
        "machine": info,
        "units": {"times": "seconds (null = timeout)", "memory": "MB (10^6 bytes) of VmRSS"},
        "results": {str(n): r for n, r in all_results.items()},
    }
    data = json.dumps(raw, indent=1) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in (stem, "latest"):
        (RESULTS / f"{name}.md").write_text(text)
        (RESULTS / f"{name}.json").write_text(data)
    return text
