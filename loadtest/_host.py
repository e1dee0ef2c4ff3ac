"""What the machine did during a run: the host's CPU split, and the CPU of the processes involved.

A latency measured on a shared machine mixes the service's time with the time the host did not
give it. Linux reports both in /proc: `/proc/stat` counts, for the whole machine, the CPU time
spent busy, idle and stolen (`steal`: time a virtual CPU was ready to run but the hypervisor ran
someone else), and `/proc/<pid>/stat` counts each process's own CPU time. `CpuWatch` samples them
at the start of a run, every few seconds during it (the peak steal of a short interval shows a
starved minute that the run's average hides) and at its end. `CpuReport.lines` prints them next to
the latencies: the host's steal and busy shares, the load generator's own CPU (Locust and its
worker processes), and, when the run's target is a local stage started for it (STAGE_PID), the
stage's processes (the app's and the engine's), each as a share of one CPU and as CPU time per
request. The verdict does not change: these lines tell a reader whether a slow run was a slow
service or a starved machine.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PROC = Path("/proc")
SAMPLE_SECONDS = 5.0
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclasses.dataclass(frozen=True)
class HostTimes:
    """The machine's CPU time so far, in clock ticks summed over its CPUs."""

    total: int
    idle: int  # idle + iowait
    steal: int

    def __sub__(self, other: HostTimes) -> HostTimes:
        return HostTimes(self.total - other.total, self.idle - other.idle, self.steal - other.steal)

    @property
    def steal_percent(self) -> float:
        return 100.0 * self.steal / self.total if self.total > 0 else 0.0

    @property
    def busy_percent(self) -> float:
        """Our share of the machine: neither idle nor stolen."""
        return 100.0 * (self.total - self.idle - self.steal) / self.total if self.total > 0 else 0.0


def host_times(proc: Path = PROC) -> HostTimes | None:
    """The `cpu` line of /proc/stat (None where there is none: not Linux)."""
    try:
        first = (proc / "stat").read_text(encoding="ascii").splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if first[0] != "cpu":
        return None
    values = [int(value) for value in first[1:9]]  # user nice system idle iowait irq softirq steal
    values += [0] * (8 - len(values))
    return HostTimes(total=sum(values), idle=values[3] + values[4], steal=values[7])


def cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """A process's own CPU time (user + system, all its threads); 0 once it is gone."""
    try:
        fields = (proc / str(pid) / "stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def children(pid: int, proc: Path = PROC) -> list[int]:
    """Every descendant of a process (through /proc/<pid>/task/<tid>/children)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            tasks = list((proc / str(current) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = [int(kid) for kid in (task / "children").read_text(encoding="ascii").split()]
            except (OSError, ValueError):
                continue
            found += kids
            pending += kids
    return found


def command_line(pid: int, proc: Path = PROC) -> str:
    try:
        return (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stage_role(command: str) -> str:
    """What a process of a local stage is: the engine (`python -m local.engine`) or the app."""
    return "engine" if "local.engine" in command else "app"


@dataclasses.dataclass
class Group:
    """Processes counted together, e.g. the load generator; CPU seconds per process when last seen."""

    name: str
    roots: tuple[int, ...]
    label: Callable[[str], str] = lambda _command: ""
    # pid -> (label, CPU seconds at the first sample, at the last)
    seen: dict[int, tuple[str, float, float]] = dataclasses.field(default_factory=dict)

    def sample(self, proc: Path = PROC) -> None:
        for pid in {*self.roots, *(kid for root in self.roots for kid in children(root, proc))}:
            seconds = cpu_seconds(pid, proc)
            if pid in self.seen:
                label, first, _ = self.seen[pid]
                self.seen[pid] = (label, first, max(seconds, self.seen[pid][2]))
            else:
                self.seen[pid] = (self.label(command_line(pid, proc)), seconds, seconds)

    def used(self) -> dict[str, float]:
        """CPU seconds used since the first sample, by label ("" for a group without labels)."""
        by_label: dict[str, float] = {}
        for label, first, last in self.seen.values():
            by_label[label] = by_label.get(label, 0.0) + (last - first)
        return by_label


@dataclasses.dataclass(frozen=True)
class CpuReport:
    seconds: float
    cpus: int
    steal_percent: float
    steal_peak_percent: float
    busy_percent: float
    groups: dict[str, dict[str, float]]  # group -> label -> CPU seconds

    def lines(self, requests: int) -> list[str]:
        """The lines printed next to the latencies."""
        if self.seconds <= 0:
            return []
        lines = [
            f"host: steal {self.steal_percent:.1f} % of the CPU time over the run "
            f"(peak {self.steal_peak_percent:.1f} % in a {SAMPLE_SECONDS:g} s interval), "
            f"busy {self.busy_percent:.0f} % of {self.cpus} CPUs"
        ]
        for name, by_label in self.groups.items():
            total = sum(by_label.values())
            parts = [f"{name}: {total / self.seconds:.2f} CPUs"]
            if requests:
                labelled = sorted((label, seconds) for label, seconds in by_label.items() if label)
                split = ", ".join(f"{label} {1000 * seconds / requests:.1f}" for label, seconds in labelled)
                detail = f" ({split})" if split else ""
                parts.append(f"{1000 * total / requests:.1f} ms CPU per request{detail}")
            lines.append(", ".join(parts))
        return lines


class CpuWatch:
    """Samples the host and some groups of processes from `start()` to `report()`."""

    def __init__(
        self, groups: Iterable[Group], proc: Path = PROC, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.groups = list(groups)
        self.proc = proc
        self.clock = clock
        self._started: tuple[float, HostTimes] | None = None
        self._last: HostTimes | None = None
        self._peak_steal = 0.0

    def start(self) -> None:
        times = host_times(self.proc)
        if times is None:
            return
        self._started = (self.clock(), times)
        self._last = times
        self._peak_steal = 0.0
        for group in self.groups:
            group.seen.clear()
            group.sample(self.proc)

    def sample(self) -> None:
        """One interval: its steal share (for the peak) and the processes' CPU so far."""
        times = host_times(self.proc)
        if self._started is None or self._last is None or times is None:
            return
        self._peak_steal = max(self._peak_steal, (times - self._last).steal_percent)
        self._last = times
        for group in self.groups:
            group.sample(self.proc)

    def run(self, interval: float = SAMPLE_SECONDS) -> None:
        """Sample every `interval` seconds until stopped (a greenlet in Locust's master)."""
        while True:
            time.sleep(interval)
            self.sample()

    def report(self) -> CpuReport | None:
        if self._started is None:
            return None
        self.sample()
        started_at, first = self._started
        assert self._last is not None
        run = self._last - first
        return CpuReport(
            seconds=self.clock() - started_at,
            cpus=os.cpu_count() or 1,
            steal_percent=run.steal_percent,
            steal_peak_percent=max(self._peak_steal, run.steal_percent),
            busy_percent=run.busy_percent,
            groups={group.name: group.used() for group in self.groups},
        )


def run_watch(stage_pid: int | None) -> CpuWatch:
    """The load generator (this process and its workers) and, if given, the local stage's processes."""
    groups = [Group("load generator", (os.getpid(),))]
    if stage_pid:
        groups.append(Group("stage", (stage_pid,), label=stage_role))
    return CpuWatch(groups)
