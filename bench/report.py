"""The report of `make bench`: reports/bench.json and the table printed at the end.

The table is the rows of each figure family (its module's `rows`), in one order; the JSON holds
every figure with medians, min/max and run counts, the targets, the versions and the machine.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from bench import authorization, bundle_size, cold_start, contract_scale, local_stage, warm
from bench.common import Row
from bench.engine_list import list_rows
from bench.engine_scale import rows as engine_rows

VERSIONS = (
    "connexion",
    "attrs",
    "jsonschema",
    "mangum",
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "boto3",
    "botocore",
    "moto",
)


def versions() -> dict[str, str]:
    found = {name: importlib.metadata.version(name) for name in VERSIONS}
    found["python"] = platform.python_version()
    return found


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def rows(report: dict[str, Any]) -> list[Row]:
    """Every family's rows, in the table's order, after the Python the bundle ran on."""
    found: list[Row] = []
    sources = report.get("sources") or {}
    if "lambda_python" in sources:
        runtime = sources["lambda_python"]
        whose = (
            "the Lambda runtime's" if sources["python"] == runtime else f"the runtime's {runtime} is not here"
        )
        found.append(("Python the bundle runs on", f"{sources['python']} ({whose})", "reported", "-"))
    if report.get("cold_start"):
        found += cold_start.rows(report["cold_start"], report["figures"])
    if report.get("warm"):
        found += warm.rows(report["warm"])
    if report.get("authorization"):
        found += authorization.rows(report["authorization"])
    if report.get("bundle"):
        found += bundle_size.rows(report["bundle"])
    if report.get("local_stage"):
        found += local_stage.rows(report["local_stage"])
    if report.get("contract_scale"):
        found += contract_scale.rows(report["contract_scale"])
    if report.get("engine_scale"):
        for figure, measured, target, met in engine_rows(report["engine_scale"]):
            found.append((figure, measured, target, "met" if met else "MISSED"))
    if report.get("engine_list"):
        for figure, measured, target, met in list_rows(report["engine_list"]):
            found.append((figure, measured, target, "met" if met else "MISSED"))
    return found


def table(report: dict[str, Any]) -> str:
    """The rows as a Markdown table, columns padded to their widest cell."""
    body = rows(report)
    header = ("figure", "measured", "target", "")
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in body]
    return "\n".join(lines)


def finish(report: dict[str, Any], report_file: Path | None, started: float) -> dict[str, Any]:
    """Adds the run's context and the table, and writes reports/bench.json."""
    report["duration_s"] = round(time.time() - started, 1)
    report["versions"] = versions()
    report["machine"] = machine()
    report["command"] = "make bench"
    report["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report["table"] = table(report)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
