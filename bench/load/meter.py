"""What the run costs, read from /proc once a second: the app server's CPU time (its process
and any children) and resident memory, the CPU of the PostgreSQL backends serving the app
(found by the application_name the run gives the app's database URL), this process's own
CPU with its children (the load generator, Playwright and Chromium), the whole machine's busy
CPU and the load average. Windows of the series give CPU as % of one core.

With several app servers (behind a proxy, bench/load_run.py --servers): the servers' CPU and
memory summed, each server's CPU too, and the proxy's CPU apart (neither a server's nor the
generator's)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1e6


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def processes() -> dict[int, tuple[int, float]]:
    """Every process: pid -> (parent pid, CPU seconds)."""
    found: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            found[int(entry)] = stat
    return found


def tree(root: int, table: dict[int, tuple[int, float]]) -> set[int]:
    """`root` and its descendants."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _cpu) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in table and pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of a process in MB (10^6 bytes); 0 if it is gone."""
    with contextlib.suppress(OSError):
        if match := re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M):
            return int(match.group(1)) * 1024 / 1e6
    return 0.0


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICK, sum(values) / TICK


@dataclass
class Reading:
    at: float  # time.perf_counter()
    server_cpu: float  # all the app servers'
    server_rss: float  # all the app servers'
    db_cpu: float
    generator_cpu: float
    machine_busy: float
    machine_total: float
    load1: float
    server_cpus: tuple[float, ...] = ()  # each app server's, with several
    proxy_cpu: float = 0.0


@dataclass
class Meter:
    """Samples every `interval_s` while `run` runs; `window` sums them up."""

    server_pids: list[int]
    db_url: str | None = None  # PostgreSQL: whose backends to count
    application_name: str = ""
    proxy_pid: int | None = None  # the proxy in front of several app servers
    interval_s: float = 1.0
    readings: list[Reading] = field(default_factory=list)
    _db_seen: dict[int, float] = field(default_factory=dict)
    _db_total: float = 0.0
    _db: Any = None

    def read(self) -> Reading:
        table = processes()
        servers = [tree(pid, table) for pid in self.server_pids]
        proxy = tree(self.proxy_pid, table) if self.proxy_pid else set()
        ours = tree(os.getpid(), table).difference(proxy, *servers)
        cpus = tuple(sum(table[p][1] for p in server) for server in servers)
        busy, total = machine_busy()
        return Reading(
            at=time.perf_counter(),
            server_cpu=sum(cpus),
            server_rss=sum(rss_mb(pid) for pid in self.server_pids),
            db_cpu=self._db_cpu(table),
            generator_cpu=sum(table[p][1] for p in ours),
            machine_busy=busy,
            machine_total=total,
            load1=os.getloadavg()[0],
            server_cpus=cpus if len(cpus) > 1 else (),
            proxy_cpu=sum(table[p][1] for p in proxy),
        )

    def _db_cpu(self, table: dict[int, tuple[int, float]]) -> float:
        """The CPU the app's PostgreSQL backends used since they were first seen (a backend
        that ends keeps what it had used)."""
        if not self.db_url:
            return 0.0
        try:
            if self._db is None:
                import psycopg

                self._db = psycopg.connect(self.db_url, autocommit=True)
            rows = self._db.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                (self.application_name,),
            ).fetchall()
        except Exception:
            self._db = None
            return self._db_total
        for (pid,) in rows:
            if pid in table:
                cpu = table[pid][1]
                self._db_total += cpu - self._db_seen.get(pid, cpu if not self.readings else 0.0)
                self._db_seen[pid] = cpu
        return self._db_total

    async def run(self) -> None:
        while True:
            self.readings.append(await asyncio.to_thread(self.read))
            await asyncio.sleep(self.interval_s)

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(Exception):
                self._db.close()

    def window(self, start: float, end: float) -> dict[str, float]:
        """CPU over [start, end] as % of one core (server, database backends, generator,
        machine busy as % of all cores), the p95 and max of the server's 1-s CPU, the
        server's RSS at the end and the mean load average; with several servers also each
        one's CPU (server_cpu_1, server_cpu_2...) and, with a proxy, its CPU (proxy_cpu)."""
        inside = [r for r in self.readings if start <= r.at <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        span = last.at - first.at

        def pct(attribute: str) -> float:
            return float(100 * (getattr(last, attribute) - getattr(first, attribute)) / span)

        per_second = sorted(
            100 * (b.server_cpu - a.server_cpu) / (b.at - a.at)
            for a, b in itertools.pairwise(inside)
            if b.at > a.at
        )
        machine = (
            100
            * (last.machine_busy - first.machine_busy)
            / max(last.machine_total - first.machine_total, 1e-9)
        )
        each: dict[str, float] = {
            f"server_cpu_{i + 1}": float(100 * (b - a) / span)
            for i, (a, b) in enumerate(zip(first.server_cpus, last.server_cpus, strict=True))
        }
        if self.proxy_pid:
            each["proxy_cpu"] = pct("proxy_cpu")
        return {
            "seconds": span,
            "server_cpu": pct("server_cpu"),
            "server_cpu_p95": per_second[min(len(per_second) - 1, int(0.95 * len(per_second)))],
            "server_cpu_max": per_second[-1],
            "db_cpu": pct("db_cpu"),
            "generator_cpu": pct("generator_cpu"),
            "machine_busy": machine,
            "rss_mb": last.server_rss,
            "load1": sum(r.load1 for r in inside) / len(inside),
            **each,
        }
