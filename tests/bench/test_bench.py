"""The benchmark code runs (tiny counts, the checkout instead of a bundle); nothing here is timed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.runner import TINY, run

pytestmark = pytest.mark.integration


def test_the_benchmarks_run_once_and_write_a_report(tmp_path: Path) -> None:
    report_file = tmp_path / "bench.json"

    families = ("cold", "warm", "auth", "local", "engine")
    report = run(TINY, use_bundle=False, only=families, report_file=report_file)

    assert report_file.exists()
    assert set(report["figures"]) >= {
        "cold_start_ratio",
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
