"""The host's CPU split and the processes' CPU over a run, read from a fake /proc."""

from __future__ import annotations

from pathlib import Path

from loadtest._host import TICKS, CpuWatch, Group, children, host_times, stage_role


class FakeProc:
    """A /proc with a `cpu` line and processes whose CPU time and children we set."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host(user=0, idle=0, steal=0)

    def host(self, user: int, idle: int, steal: int) -> None:
        # user nice system idle iowait irq softirq steal guest guest_nice
        (self.root / "stat").write_text(
            f"cpu  {user} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n"
        )

    def process(self, pid: int, cpu_seconds: float, command: str, kids: tuple[int, ...] = ()) -> None:
        directory = self.root / str(pid)
        (directory / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
        ticks = round(cpu_seconds * TICKS)
        fields = ["S", *["0"] * 10, str(ticks), "0", *["0"] * 30]
        (directory / "stat").write_text(f"{pid} (python) {' '.join(fields)}\n")
        (directory / "cmdline").write_bytes(command.replace(" ", "\0").encode())
        (directory / "task" / str(pid) / "children").write_text(" ".join(str(kid) for kid in kids))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_run_reports_the_hosts_steal_its_peak_and_each_groups_cpu_per_request(tmp_path: Path) -> None:
    proc, clock = FakeProc(tmp_path), Clock()
    proc.process(10, 1.0, "locust -f loadtest/")
    proc.process(20, 5.0, "python -m local.stage", kids=(21,))
    proc.process(21, 2.0, "python -m local.engine --port 1")
    watch = CpuWatch(
        [Group("load generator", (10,)), Group("stage", (20,), label=stage_role)], proc=tmp_path, clock=clock
    )
    watch.start()

    proc.host(user=900, idle=1000, steal=100)  # first interval: 5 % stolen
    watch.sample()
    proc.host(user=1500, idle=1600, steal=900)  # second: 800 of 2,000 ticks stolen, 40 %
    proc.process(10, 3.0, "locust -f loadtest/")
    proc.process(20, 9.0, "python -m local.stage", kids=(21,))
    proc.process(21, 8.0, "python -m local.engine --port 1")
    clock.now = 10.0
    report = watch.report()

    assert report is not None
    assert round(report.steal_percent, 1) == 22.5  # 900 of 4,000 ticks
    assert round(report.steal_peak_percent, 1) == 40.0
    assert round(report.busy_percent) == 38  # 1,500 of 4,000 neither idle nor stolen
    assert report.groups == {"load generator": {"": 2.0}, "stage": {"app": 4.0, "engine": 6.0}}
    lines = report.lines(requests=1000)
    assert lines[0].startswith(
        "host: steal 22.5 % of the CPU time over the run (peak 40.0 % in a 5 s interval)"
    )
    assert lines[1] == "load generator: 0.20 CPUs, 2.0 ms CPU per request"
    assert lines[2] == "stage: 1.00 CPUs, 10.0 ms CPU per request (app 4.0, engine 6.0)"


def test_children_are_found_through_every_generation(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path)
    proc.process(1, 0, "a", kids=(2, 3))
    proc.process(2, 0, "b", kids=(4,))
    proc.process(3, 0, "c")
    proc.process(4, 0, "d")

    assert sorted(children(1, tmp_path)) == [2, 3, 4]


def test_without_proc_stat_nothing_is_reported(tmp_path: Path) -> None:
    watch = CpuWatch([Group("load generator", (1,))], proc=tmp_path / "absent")
    watch.start()

    assert host_times(tmp_path / "absent") is None
    assert watch.report() is None
