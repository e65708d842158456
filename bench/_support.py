"""Helpers shared by the benchmarks: budgets, percentiles, the machine, a throwaway database.

Nothing here touches Django, so a benchmark may use it before (or without) configuring Django.
Running this file does nothing (`make bench` runs every bench/*.py). Import it before anything that
imports the standard library's `queue` (psycopg does): see the sys.path note below.
"""

from __future__ import annotations

import math
import os
import platform
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MEGABYTE = 1024 * 1024

# A script run from bench/ has this directory on sys.path, where bench/queue.py would be found as
# the standard library's `queue` (which psycopg, logging, multiprocessing and Celery import).
# Importing this module takes the directory off the path; `bench.*` still imports from ROOT.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- Budgets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """One figure compared with its budget; `met` is None when the figure was not measured."""

    name: str
    figure: str
    budget: str
    met: bool | None

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "NOT RUN"
        return "MET" if self.met else "MISSED"


def at_least(name: str, value: float | None, limit: float, unit: str, digits: int = 0) -> Budget:
    """A budget met when `value` is at least `limit` (higher is better)."""
    figure = "-" if value is None else f"{value:,.{digits}f} {unit}"
    met = None if value is None else value >= limit
    return Budget(name, figure, f">= {limit:,.{digits}f} {unit}", met)


def at_most(name: str, value: float | None, limit: float, unit: str, digits: int = 1) -> Budget:
    """A budget met when `value` is at most `limit` (lower is better)."""
    figure = "-" if value is None else f"{value:,.{digits}f} {unit}"
    met = None if value is None else value <= limit
    return Budget(name, figure, f"<= {limit:,.{digits}f} {unit}", met)


def memory_flat(
    name: str,
    small_kb: int | None,
    large_kb: int | None,
    *,
    ratio: float = 1.25,
    slack_mb: float = 20.0,
) -> Budget:
    """A budget met when the larger input's peak RSS is within `ratio` or `slack_mb` of the smaller's."""
    budget = f"large <= {ratio:g}x small or <= small + {slack_mb:g} MB"
    if small_kb is None or large_kb is None:
        return Budget(name, "-", budget, None)
    grown = large_kb / small_kb
    extra_mb = (large_kb - small_kb) / 1024
    figure = (
        f"{small_kb / 1024:.1f} MB -> {large_kb / 1024:.1f} MB ({grown:.2f}x, {extra_mb:+.1f} MB)"
    )
    return Budget(name, figure, budget, grown <= ratio or extra_mb <= slack_mb)


def budgets_print(title: str, budgets: Sequence[Budget]) -> bool:
    """Print a table of budgets and a summary line; return whether every budget was met."""
    width = max(len(b.name) for b in budgets)
    figure_width = max(len(b.figure) for b in budgets)
    budget_width = max(len(b.budget) for b in budgets)
    print(f"\n{title}")
    for b in budgets:
        print(
            f"  {b.name:<{width}}  {b.figure:>{figure_width}}"
            f"  budget {b.budget:<{budget_width}}  {b.verdict}"
        )
    met = sum(1 for b in budgets if b.met)
    missed = [b.name for b in budgets if not b.met]
    summary = f"{met} of {len(budgets)} budgets met"
    if missed:
        summary += f"; missed or not run: {', '.join(missed)}"
    print(f"SUMMARY: {summary}")
    return not missed


# --- Statistics -------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the nearest-rank q-th percentile (0 < q <= 100) of `values`, or None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt_ms(seconds: float | None) -> str:
    """Seconds as milliseconds with one decimal, or "-" when missing."""
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


# --- Processes and the machine ----------------------------------------------------------------


def proc_status_kb(field: str, pid: int | str = "self") -> int | None:
    """Return a kB figure (VmHWM, VmRSS, ...) of /proc/<pid>/status, or None where unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float | None:
    """Return the user + system CPU seconds a process has used, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """Return (busy, total) CPU seconds of the whole machine since boot, over all cores."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """Return the pids of the direct children of a process."""
    pids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as children:
                pids.extend(int(child) for child in children.read().split())
    except OSError:
        pass
    return pids


def postgres_backend_pids(database: str) -> list[int]:
    """Return the pids of the local PostgreSQL backends serving `database` (from their titles)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                title = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # e.g. "postgres: 15/main: postgres quorum_bench 127.0.0.1(48234) idle"
        if title.startswith("postgres:") and f" {database} " in title:
            pids.append(int(entry))
    return pids


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages as text."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_lines(database_url: str) -> list[str]:
    """Describe where the benchmark ran: CPU, cores, RAM, PostgreSQL and Python."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    ram = "unknown"
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    ram = f"{int(line.split()[1]) / MEGABYTE:.1f} GB"
                    break
    except OSError:
        pass
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url(database_url), autocommit=True) as conn:
        settings = {
            name: str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0])  # type: ignore[index]  # SHOW always returns one row
            for name in ("server_version", "shared_buffers", "autovacuum", "synchronous_commit")
        }
    return [
        f"CPU:        {cpu}",
        f"cores:      {os.cpu_count()}",
        f"RAM:        {ram}",
        f"PostgreSQL: {settings['server_version']} (shared_buffers {settings['shared_buffers']},"
        f" autovacuum {settings['autovacuum']}, synchronous_commit {settings['synchronous_commit']})",
        f"Python:     {platform.python_version()} ({platform.python_implementation()})",
        f"OS:         {platform.platform()}",
        f"load:       {load_average()} (1/5/15 min) before the run; other processes share the machine",
    ]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_http_ok(url: str, *, timeout: float, alive: Callable[[], bool] | None = None) -> None:
    """Poll `url` until it answers 200; raise TimeoutError after `timeout` seconds.

    Polling stops early with RuntimeError when `alive` (if given) returns False: the server died.
    """
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"the server exited while waiting for {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  # our own http URL
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s ({last_error})")


# --- A throwaway PostgreSQL database ----------------------------------------------------------


def database_name(url: str) -> str:
    """Return the database name of a postgres:// URL."""
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise ValueError(f"{url!r} names no database")
    return name


def maintenance_url(url: str) -> str:
    """Return the same server's `postgres` database, to create and drop others from."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def database_recreate(url: str) -> None:
    """Drop the database of `url` (closing its connections) and create it empty."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(database_name(url))
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def database_drop(url: str) -> None:
    """Drop the database of `url`, closing its connections."""
    import psycopg
    from psycopg import sql

    name = sql.Identifier(database_name(url))
    with psycopg.connect(maintenance_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
