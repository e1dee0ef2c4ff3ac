"""What every figure family of `make bench` shares: paths, the child-process protocol, summaries.

Standard library only, and imports nothing else of bench/: every other module may import it.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
BUILD_DIR = ROOT / "build" / "bench"
REPORT_FILE = ROOT / "reports" / "bench.json"
CHILD = BENCH_DIR / "child.py"
OURS = "service.lambda_handler"
BASELINE = "baseline_handler"
TABLE = "users-local"  # settings.yaml, stages.local.service.table_name
API_KEY = "local-dev-key"  # settings.yaml, stages.local.service.api_key

# One line of the table: figure, measured, target, verdict ("met", "MISSED" or "-").
Row = tuple[str, str, str, str]


@dataclasses.dataclass(frozen=True)
class Source:
    """Where a child process finds the handler's code, and the interpreter (and its flags) to run it
    with: the Lambda runtime's Python for a bundle (bench/sources.py), this one for the checkout."""

    name: str
    sys_path: tuple[str, ...]
    flags: tuple[str, ...]
    task_root: str
    python: str = sys.executable


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def summary(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "runs": len(values),
    }


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    return "met" if met else "MISSED"


RESULT_FILE = "{result-file}"  # in run_for_json's argv: where the child writes its JSON


def run_for_json(source: Source, argv: Sequence[str], env: dict[str, str], timeout: float = 120) -> Any:
    """Run `python <source's flags> *argv` in a fresh process, RESULT_FILE in argv replaced by a
    temporary file's path; the JSON the child wrote there."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result_file = Path(handle.name)
    try:
        subprocess.run(  # noqa: S603 - our own interpreter and code
            [source.python, *source.flags, *(str(result_file) if a == RESULT_FILE else a for a in argv)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=timeout,
        )
        return json.loads(result_file.read_text(encoding="utf-8"))
    finally:
        result_file.unlink(missing_ok=True)
