"""The engine-scale benchmark code runs (tiny sizes); nothing here is timed."""

from __future__ import annotations

import pytest

from bench.engine_list import list_rows, list_scale
from bench.engine_scale import engine_scale, rows

pytestmark = pytest.mark.integration


def test_engine_scale_measures_every_size_and_keeps_each_table_at_its_size() -> None:
    result = engine_scale((10, 30), creates=6)

    assert set(result["sizes"]) == {"10", "30"}
    assert [row["engine_users"] for row in result["sizes"].values()] == [10, 40]
    assert all(row["create_ms"]["runs"] == 6 for row in result["sizes"].values())
    assert result["rss_mb_at_largest"] > 0
    figures = [figure for figure, _, _, _ in rows(result)]
    assert figures == ["engine create latency (30 vs 10 users)", "engine RSS with a table of 30 users"]


def test_list_scale_times_pages_at_every_size_and_reports_the_ratio() -> None:
    result = list_scale((10, 30), pages=5)

    assert set(result["sizes"]) == {"10", "30"}
    assert all(row["page_ms"]["runs"] == 5 for row in result["sizes"].values())
    assert result["list_ratio"] > 0
    figures = [figure for figure, _, _, _ in list_rows(result)]
    assert figures == ["engine listUsers page latency (30 vs 10 users)"]
