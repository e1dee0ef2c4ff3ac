"""python -m bench [--quick] [--only cold,warm,auth,bundle,scale,local,engine] [--no-bundle]

--only: comma-separated figure families (bench.runner.FAMILIES); an unknown name is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.common import REPORT_FILE
from bench.runner import FAMILIES, TINY, Counts, run


def families(text: str) -> list[str]:
    """--only's value: comma-separated names of FAMILIES, at least one; any other name is an error."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in FAMILIES]
    if unknown or not names:
        given = f"unknown {', '.join(map(repr, unknown))}" if unknown else "no family given"
        raise argparse.ArgumentTypeError(f"{given}; the families are {', '.join(FAMILIES)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="users-api benchmarks (make bench)")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks that it runs")
    parser.add_argument(
        "--only",
        type=families,
        default=list(FAMILIES),
        help=f"comma-separated figure families (default: all of {','.join(FAMILIES)})",
    )
    parser.add_argument("--no-bundle", action="store_true", help="run the checkout, not the Lambda bundle")
    parser.add_argument("--cold-runs", type=int, default=Counts.cold_runs)
    parser.add_argument("--warm-pairs", type=int, default=Counts.warm_pairs)
    parser.add_argument("--report", type=Path, default=REPORT_FILE)
    args = parser.parse_args(argv)
    counts = TINY if args.quick else Counts(cold_runs=args.cold_runs, warm_pairs=args.warm_pairs)
    report = run(counts, use_bundle=not args.no_bundle, only=args.only, report_file=args.report)
    print(report["table"])
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
