"""The benchmark code runs (tiny counts, the checkout instead of a bundle); nothing here is timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cold_start import paired_ratios
from bench.runner import TINY, run

pytestmark = pytest.mark.integration


def test_the_benchmarks_run_once_and_write_a_report(tmp_path: Path) -> None:
    report_file = tmp_path / "bench.json"

    families = ("cold", "warm", "auth", "local", "engine")
    report = run(TINY, use_bundle=False, only=families, report_file=report_file)

    assert report_file.exists()
    assert set(report["figures"]) >= {
        "cold_start_ratio",
        "cold_start_paired_ratio",
        "warm_overhead_ms",
        "peak_rss_mib",
        "authorization_cold_ms",
        "authorization_warm_ms",
        "security_warm_ms",
        "engine_create_ratio",
        "engine_list_ratio",
    }
    assert report["local_stage"]["journey_ratio"] > 0
    assert report["table"].startswith("| figure")
    for row in ("what authorization adds to a cold start", "what authorization adds to a warm request"):
        assert row in report["table"]
    # The two contracts differ only by their security requirements: authorization imports nothing.
    assert report["authorization"]["modules_added"] == []
    assert "engine listUsers page latency" in report["table"]


def test_the_paired_ratio_compares_each_round_with_its_own_baseline() -> None:
    # The machine halves its speed in round 3 for ours and from round 4 for both: each round's ratio
    # is 1.3 but one, while the medians of the two sides come from different moments (their ratio,
    # 260 / 100, is 2.6).
    baseline = [100.0, 100.0, 100.0, 200.0, 200.0]
    ours = [130.0, 130.0, 260.0, 260.0, 260.0]

    paired = paired_ratios(ours, baseline)

    assert paired["median"] == 1.3
    assert paired["q1"] <= paired["median"] <= paired["q3"]
    assert paired_ratios([150.0], [100.0]) == {"median": 1.5, "q1": 1.5, "q3": 1.5}
