"""python -m bench [--quick] [--only cold,warm,bundle,scale,local,engine] [--no-bundle]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import REPORT_FILE
from bench.runner import FAMILIES, TINY, Counts, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="users-api benchmarks (make bench)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks that it runs")
    parser.add_argument("--only", default=",".join(FAMILIES), help="comma-separated figure families")
    parser.add_argument("--no-bundle", action="store_true", help="run the checkout, not the Lambda bundle")
    parser.add_argument("--cold-runs", type=int, default=Counts.cold_runs)
    parser.add_argument("--warm-pairs", type=int, default=Counts.warm_pairs)
    parser.add_argument("--report", type=Path, default=REPORT_FILE)
    args = parser.parse_args(argv)
    counts = TINY if args.quick else Counts(cold_runs=args.cold_runs, warm_pairs=args.warm_pairs)
    report = run(counts, use_bundle=not args.no_bundle, only=args.only.split(","), report_file=args.report)
    print(report["table"])
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
