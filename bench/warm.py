"""Warm overhead and memory: long-lived handler processes against a canned DynamoDB endpoint.

Two processes (ours, the baseline) import their handler once, then serve blocks of POST+GET API
Gateway events, in alternating blocks (block 0 warms up and is discarded), the order flipping every
block so a busy machine slows both alike. Both talk over real HTTP to bench/fake_dynamodb.py,
which costs the same for both, so the difference of their medians is our own code.

The figure is a ratio: the overhead (mean of the POST and GET differences of medians) over the
baseline's own per-request time (mean of its POST and GET medians). What authorization adds to a
request is measured in one process (bench/authorization.py): between two processes of the same
code the medians differ by more than it.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from bench.common import BASELINE, CHILD, OURS, ROOT, Row, Source, log, summary, verdict
from bench.sources import lambda_environment
from local.engine import HOST, free_port
from local.readiness import http_ok, wait_until

TARGETS = {"warm_overhead_ratio": 0.9, "peak_rss_mib": 128.0}


@contextlib.contextmanager
def fake_dynamodb() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bench.fake_dynamodb", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    endpoint = f"http://{HOST}:{port}"
    try:
        wait_until(http_ok(endpoint), what="the fake DynamoDB endpoint", timeout=30, process=process)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


class HandlerProcess:
    """A child in `serve` mode: one handler module imported once, invoked on request."""

    def __init__(self, source: Source, module: str, env: dict[str, str]) -> None:
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [source.python, *source.flags, str(CHILD), "serve", module, str(write_fd)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self.results: TextIO = os.fdopen(read_fd, encoding="utf-8")

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.results.readline()
        if not line:
            raise RuntimeError(f"the handler process exited ({self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
        self.process.wait(timeout=30)
        self.results.close()


def interleaved_blocks(
    processes: dict[str, HandlerProcess],
    pairs: int,
    block: int,
    on_block: Callable[[int, int], None] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Blocks of `block` POST+GET pairs sent to each process in turn, the order flipping every block
    so a busy machine slows both alike; block 0 warms up and is discarded. Timings per process."""
    names = list(processes)
    timings: dict[str, dict[str, list[float]]] = {name: {"POST": [], "GET": []} for name in names}
    blocks = -(-pairs // block)
    for number in range(blocks + 1):
        for name in names if number % 2 else list(reversed(names)):
            answer = processes[name].ask(f"run {block}")
            if answer["statuses"] != [200, 201]:
                raise RuntimeError(f"{name} answered {answer['statuses']} (expected 200 and 201)")
            if number:
                for method, values in answer["timings"].items():
                    timings[name][method].extend(values)
        if on_block is not None:
            on_block(number, blocks)
    return timings


def warm(source: Source, pairs: int, block: int) -> dict[str, Any]:
    """Blocks of `block` POST+GET pairs, alternating between ours and the baseline (block 0 discarded)."""
    from bench.fake_dynamodb import USER_ID

    handlers = [("ours", source, OURS), ("baseline", source, BASELINE)]
    with fake_dynamodb() as endpoint:
        processes = {
            name: HandlerProcess(src, module, lambda_environment(src, endpoint, USER_ID))
            for name, src, module in handlers
        }
        try:

            def progress(number: int, blocks: int) -> None:
                if number % 5 == 0:
                    log(f"warm block {number}/{blocks}")

            timings = interleaved_blocks(processes, pairs, block, progress)
            rss = {name: process.ask("rss")["peak_rss_mib"] for name, process in processes.items()}
        finally:
            for process in processes.values():
                process.close()
    result: dict[str, Any] = {"per_request_ms": {}, "overhead_ms": {}}
    for name, by_method in timings.items():
        result["per_request_ms"][name] = {method: summary(values) for method, values in by_method.items()}
    for method in ("POST", "GET"):
        ours = statistics.median(timings["ours"][method])
        base = statistics.median(timings["baseline"][method])
        result["overhead_ms"][method] = round(ours - base, 4)
    result["overhead_ms"]["mixed"] = round(statistics.fmean(result["overhead_ms"].values()), 4)
    baseline_ms = statistics.fmean(statistics.median(timings["baseline"][m]) for m in ("POST", "GET"))
    result["baseline_per_request_ms"] = round(baseline_ms, 4)
    result["overhead_ratio"] = round(result["overhead_ms"]["mixed"] / baseline_ms, 3)
    invocations = sum(len(values) for values in timings["ours"].values())
    result["memory"] = {
        "peak_rss_mib": {name: round(value, 1) for name, value in rss.items()},
        "invocations_per_process": invocations + 2 * block,
    }
    return result


def figures(result: dict[str, Any]) -> dict[str, float]:
    found = {
        "warm_overhead_ms": result["overhead_ms"]["mixed"],
        "warm_overhead_ratio": result["overhead_ratio"],
        "peak_rss_mib": result["memory"]["peak_rss_mib"]["ours"],
    }
    return found


def rows(result: dict[str, Any]) -> list[Row]:
    overhead = result["overhead_ms"]
    rss = result["memory"]["peak_rss_mib"]
    return [
        (
            "warm overhead per request / baseline's own (prod switches)",
            f"{overhead['mixed']:.3f} ms (POST {overhead['POST']:.3f}, GET {overhead['GET']:.3f}) / "
            f"{result['baseline_per_request_ms']:.3f} ms = {result['overhead_ratio']:.2f}",
            f"<= {TARGETS['warm_overhead_ratio']}",
            verdict(result["overhead_ratio"], TARGETS["warm_overhead_ratio"]),
        ),
        (
            f"peak RSS after {result['memory']['invocations_per_process']} invocations",
            f"{rss['ours']:.1f} MiB (baseline {rss['baseline']:.1f} MiB)",
            f"<= {TARGETS['peak_rss_mib']:.0f} MiB",
            verdict(rss["ours"], TARGETS["peak_rss_mib"]),
        ),
    ]
