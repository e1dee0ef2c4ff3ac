"""Pass/fail of a run: what it measured against settings.yaml's `alarms` (what CloudWatch alarms on).

Only the thresholds a client can see are checked: failure ratio, p95 and p99 latency, the 5XX
count, the 4XX ratio, and throttling as the client sees it (429 responses; a DynamoDB throttle
reaches it as a 503, i.e. a 5XX). `lambda_p99_duration_ms` is the function's own: CloudWatch only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from infra.settings import AlarmSettings
from loadtest._capacity import percentile

GATE_EXIT_CODE = 1


@dataclasses.dataclass(frozen=True)
class Measured:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    five_xx: int
    four_xx: int
    throttled: int = 0  # 429 responses

    @property
    def error_rate_percent(self) -> float:
        return 100.0 * self.failures / self.requests if self.requests else 0.0

    @property
    def four_xx_rate_percent(self) -> float:
        return 100.0 * self.four_xx / self.requests if self.requests else 0.0

    def summary(self) -> str:
        return (
            f"requests {self.requests}, failures {self.failures} ({self.error_rate_percent:.2f}%), "
            f"5XX {self.five_xx}, 4XX {self.four_xx} ({self.four_xx_rate_percent:.2f}%), "
            f"429 {self.throttled}, "
            f"p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, p99 {self.p99_ms:.0f} ms"
        )


@dataclasses.dataclass(frozen=True)
class Breach:
    threshold: str  # e.g. alarms.p99_latency_ms: the setting in settings.yaml
    measured: float
    limit: float
    unit: str
    bound: str = "limit"  # "limit": the measured value must not exceed it; "minimum": reach it

    def __str__(self) -> str:
        return (
            f"BREACH {self.threshold}: measured {_number(self.measured)}{self.unit}, "
            f"{self.bound} {_number(self.limit)}{self.unit}"
        )


def measured(
    requests: int, failures: int, times_ms: Sequence[float], *, five_xx: int, four_xx: int, throttled: int
) -> Measured:
    """A run's figures, its percentiles from the exact response times: Locust's own are rounded (to
    10 ms from 100 ms, to 100 ms from 1 s), which hides up to 5 ms over a 500 ms limit and 50 ms over
    a 1,000 ms one."""
    return Measured(
        requests=requests,
        failures=failures,
        p50_ms=percentile(times_ms, 0.5),
        p95_ms=percentile(times_ms, 0.95),
        p99_ms=percentile(times_ms, 0.99),
        five_xx=five_xx,
        four_xx=four_xx,
        throttled=throttled,
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


@dataclasses.dataclass(frozen=True)
class TooFewRequests(Breach):
    """A run with fewer requests than the alarms judge: the gate judges nothing else of it."""

    def __str__(self) -> str:
        sent, needed = _number(self.measured), _number(self.limit)
        return f"too few requests to judge: {sent} < {self.threshold} ({needed}); the alarms read 0 below it"


def evaluate(measured: Measured, alarms: AlarmSettings) -> list[Breach]:
    """Every threshold the run breached (empty: the run passes). A run with fewer requests than
    alarms.min_requests fails, and nothing else of it is judged: the stage's rate and latency alarms
    read 0 below it (infra/monitoring.py), so neither does the gate (one 404 in 3 requests is no rate,
    and a p99 of 16 requests is their maximum)."""
    if measured.requests < max(1, alarms.min_requests):
        return [TooFewRequests("alarms.min_requests", measured.requests, alarms.min_requests, "", "minimum")]
    checks = [
        ("error_rate_percent", measured.error_rate_percent, alarms.error_rate_percent, " %"),
        ("p95_latency_ms", measured.p95_ms, alarms.p95_latency_ms, " ms"),
        ("p99_latency_ms", measured.p99_ms, alarms.p99_latency_ms, " ms"),
        ("five_xx_count", measured.five_xx, alarms.five_xx_count, ""),
        ("throttle_count", measured.throttled, alarms.throttle_count, ""),
        ("four_xx_rate_percent", measured.four_xx_rate_percent, alarms.four_xx_rate_percent, " %"),
    ]
    return [
        Breach(f"alarms.{name}", value, limit, unit) for name, value, limit, unit in checks if value > limit
    ]


def verdict(measured: Measured, breaches: list[Breach], header: str, context: Sequence[str] = ()) -> str:
    """The lines a run prints at its end; `context` (the host's CPU, loadtest._host) follows the latencies."""
    lines = [f"{header}: {'FAIL' if breaches else 'PASS'}", f"  {measured.summary()}"]
    lines += [f"  {line}" for line in context]
    lines += [f"  {breach}" for breach in breaches]
    return "\n".join(lines)
