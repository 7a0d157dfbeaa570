"""Numbers about processes and samples: server RSS and CPU, loadgen CPU, percentiles.

Kept apart from the scenarios so every scenario reports cost the same way: the server's
CPU seconds next to the loadgen's, which tells a reader who was the bottleneck.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil


def pids_listening_on(port: int) -> list[int]:
    """PIDs of the processes with a TCP socket listening on ``port`` (needs privileges)."""
    pids = {
        conn.pid
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid
    }
    return sorted(pids)


class ServerProcesses:
    """The server's processes: the given PIDs and all their children, re-resolved each time."""

    def __init__(self, pids: Iterable[int]) -> None:
        self.roots = [p for p in (self._proc(pid) for pid in pids) if p is not None]

    @staticmethod
    def _proc(pid: int) -> psutil.Process | None:
        try:
            return psutil.Process(pid)
        except psutil.Error:
            return None

    def processes(self) -> list[psutil.Process]:
        seen: dict[int, psutil.Process] = {}
        for root in self.roots:
            try:
                family = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in family:
                seen.setdefault(proc.pid, proc)
        return list(seen.values())

    def rss_bytes(self) -> int:
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def cpu_seconds(self) -> float:
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total


@dataclass
class CpuWindow:
    """Wall time and CPU seconds of the loadgen and the server over one scenario."""

    server: ServerProcesses
    wall0: float = 0.0
    own0: float = 0.0
    server0: float = 0.0

    def start(self) -> CpuWindow:
        self.wall0 = time.perf_counter()
        self.own0 = own_cpu_seconds()
        self.server0 = self.server.cpu_seconds()
        return self

    def result(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall0
        own = own_cpu_seconds() - self.own0
        srv = self.server.cpu_seconds() - self.server0
        return {
            "wall_s": round(wall, 3),
            "loadgen_cpu_s": round(own, 3),
            "loadgen_cpu_pct": round(100 * own / wall, 1) if wall else 0.0,
            "server_cpu_s": round(srv, 3),
            "server_cpu_pct": round(100 * srv / wall, 1) if wall else 0.0,
        }


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def latency_summary_ms(latencies_ns: Iterable[int]) -> dict[str, float | None]:
    """p50/p95/p99/max in milliseconds; None values mean nothing was delivered."""
    values = sorted(latencies_ns)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value / 1e6, 2)

    return {
        "samples": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p95_ms": ms(percentile(values, 95)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(percentile(values, 100)),
    }


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; thousands of sockets need it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
