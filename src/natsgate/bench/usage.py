"""CPU, memory, context switches and sockets of the processes under test, per trial.

A :class:`UsageMonitor` takes a snapshot of every process when a trial starts
and another when it ends; the difference is the trial's CPU. Peak memory needs
samples in between, so a daemon thread reads each process's RSS a few times a
second while the trial runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

from natsgate.bench.schema import ProcessUsage

__all__ = ["UsageMonitor"]

SAMPLE_INTERVAL = 0.25


@dataclass
class _Snapshot:
    cpu: float
    voluntary: int
    involuntary: int


def _snapshot(proc: psutil.Process) -> _Snapshot:
    with proc.oneshot():
        times = proc.cpu_times()
        switches = proc.num_ctx_switches()
    return _Snapshot(times.user + times.system, switches.voluntary, switches.involuntary)


def _open_sockets(proc: psutil.Process) -> int:
    try:
        return len(proc.net_connections(kind="inet"))
    except (psutil.AccessDenied, psutil.NoSuchProcess):
        return 0


@dataclass
class UsageMonitor:
    """Measures the processes of each role (e.g. ``{"gateway": [pid]}``) over one trial."""

    roles: dict[str, list[int]]
    _procs: dict[str, list[psutil.Process]] = field(default_factory=dict)
    _start: dict[int, _Snapshot] = field(default_factory=dict)
    _peak_rss: dict[int, int] = field(default_factory=dict)
    _started_at: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self._procs = {
            role: [psutil.Process(pid) for pid in pids] for role, pids in self.roles.items()
        }

    def _all(self) -> list[psutil.Process]:
        return [p for procs in self._procs.values() for p in procs]

    def start(self) -> None:
        self._started_at = time.monotonic()
        self._stop.clear()
        for proc in self._all():
            self._start[proc.pid] = _snapshot(proc)
            self._peak_rss[proc.pid] = proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, name="usage-monitor", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_INTERVAL):
            for proc in self._all():
                try:
                    rss = proc.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
                if rss > self._peak_rss.get(proc.pid, 0):
                    self._peak_rss[proc.pid] = rss

    def stop(self) -> dict[str, ProcessUsage]:
        """End the trial and return each role's usage over it."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        wall = max(time.monotonic() - self._started_at, 1e-9)
        usage: dict[str, ProcessUsage] = {}
        for role, procs in self._procs.items():
            cpu = 0.0
            voluntary = involuntary = sockets = peak = 0
            for proc in procs:
                try:
                    end = _snapshot(proc)
                except psutil.NoSuchProcess:
                    continue
                begin = self._start[proc.pid]
                cpu += end.cpu - begin.cpu
                voluntary += end.voluntary - begin.voluntary
                involuntary += end.involuntary - begin.involuntary
                sockets += _open_sockets(proc)
                peak += self._peak_rss.get(proc.pid, 0)
            usage[role] = ProcessUsage(
                pids=[p.pid for p in procs],
                cpu_seconds=round(cpu, 3),
                cpu_percent_of_core=round(100 * cpu / wall, 1),
                peak_rss_bytes=peak,
                ctx_switches_voluntary=voluntary,
                ctx_switches_involuntary=involuntary,
                open_sockets=sockets,
            )
        return usage
