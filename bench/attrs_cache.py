"""What the carried attrs (its generated code kept beside the bytecode, docs/upstream/attrs) takes off
our cold start.

    python -m bench.attrs_cache [--runs N]

attrs compiles the methods it generates for each class whenever the class is created: stock, at
every cold start, for the 55 classes that importing jsonschema creates (attrs' own, referencing's,
jsonschema's). The carried build keeps that code beside the defining module's bytecode, and the
bundle ships the caches (infra/bundle.py writes them at build time). This measures it on the cold
start `make bench` measures: the bundle with its `.pyc` on the runtime's Python (what ships), against
a copy whose attr/ and attrs/ are the stock release's (compiled like the bundle) and which holds no
code cache, and the baseline, interleaved in fresh processes (bench/cold_start.py). Writes
reports/attrs-cache.json and prints the medians, the best rounds and what each variant compiled at
import.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.cold_start import cold_start, figures
from bench.common import BASELINE, BUILD_DIR, OURS, ROOT, Source
from bench.sources import bundle_sources, lambda_environment
from upstream.patches import ATTRS, unpack_patched

REPORT = ROOT / "reports" / "attrs-cache.json"

# Imports a module (the handler) as the Lambda runtime does; counts the sources attrs compiled meanwhile.
IMPORT = """
import importlib, json, os, sys
compiled = []
sys.addaudithook(lambda event, args: event == "compile" and str(args[1]).startswith("<attrs generated")
                 and compiled.append(args[1]))
sys.path[:0] = os.environ["BENCH_SYS_PATH"].split(os.pathsep)
importlib.import_module(sys.argv[1])
print(json.dumps(len(compiled)))
"""


def stock_copy(bundle: Source) -> Source:
    """A copy of the bundle with the stock attrs release (compiled like the bundle) and no code cache."""
    from infra.bundle import compile_bytecode

    key = hashlib.sha256(ATTRS.wheel_sha256.encode() + bundle.task_root.encode()).hexdigest()[:12]
    destination = BUILD_DIR / f"attrsstock-{key}"
    if not destination.exists():
        scratch = BUILD_DIR / f".tmp-attrsstock-{key}"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(bundle.task_root, scratch, symlinks=True)
        for package in ATTRS.packages:
            shutil.rmtree(scratch / package)
        for cache in scratch.rglob("*.attrs"):
            cache.unlink()
        unpack_patched(scratch, [], carried=ATTRS)
        compile_bytecode(scratch, bundle.python)  # as the bundle was: only attr/ and attrs/ are new
        for stale in BUILD_DIR.glob("attrsstock-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch.rename(destination)
    return Source(
        "bundle-stock-attrs",
        (str(destination), *bundle.sys_path[1:]),
        bundle.flags,
        str(destination),
        bundle.python,
    )


def compiled_at_import(source: Source, module: str = OURS) -> int:
    """How many generated sources attrs compiled while `module` was imported from `source`."""
    env = lambda_environment(source, "http://127.0.0.1:9", "unused")  # importing calls nothing
    completed = subprocess.run(  # noqa: S603 - our interpreter and code
        [source.python, *source.flags, "-c", IMPORT, module],
        env=env,
        cwd=source.task_root,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(completed.stdout.strip().splitlines()[-1]))


def measure(runs: int) -> dict[str, Any]:
    bundle, _, info = bundle_sources()
    stock = stock_copy(bundle)
    compiled = {"ours": compiled_at_import(bundle), "ours_stock_attrs": compiled_at_import(stock)}
    variants = {"baseline": (bundle, BASELINE), "ours": (bundle, OURS), "ours_stock_attrs": (stock, OURS)}
    cold = cold_start(variants, runs)
    found = figures(cold)
    base = cold["baseline"]["total_ms"]
    found["ours_stock_attrs_ratio"] = round(
        cold["ours_stock_attrs"]["total_ms"]["median"] / base["median"], 3
    )
    found["ours_stock_attrs_best_ratio"] = round(cold["ours_stock_attrs"]["total_ms"]["min"] / base["min"], 3)
    return {"sources": info, "compiled_at_import": compiled, "cold_start": cold, "figures": found}


def table(result: dict[str, Any]) -> str:
    cold, found, compiled = result["cold_start"], result["figures"], result["compiled_at_import"]
    runs = cold["ours"]["total_ms"]["runs"]
    lines = [f"cold start (import + first GET), Python {result['sources']['python']}, {runs} rounds"]
    variants = (
        ("ours", "ours (what ships)", "cold_start"),
        ("ours_stock_attrs", "ours, stock attrs", "ours_stock_attrs"),
    )
    for name, label, figure in variants:
        total, cpu = cold[name]["total_ms"], cold[name]["cpu_ms"]
        lines.append(
            f"  {label:20s} median {total['median']:6.1f} ms  best {total['min']:6.1f} ms  "
            f"cpu median {cpu['median']:6.1f} ms  = {found[figure + '_ratio']:.3f}x "
            f"(best round {found[figure + '_best_ratio']:.3f}x, "
            f"paired by round {cold[name]['paired_ratio']['median']:.3f}x)  "
            f"attrs compiled {compiled[name]} sources at import"
        )
    base = cold["baseline"]["total_ms"]
    lines.append(f"  {'baseline':20s} median {base['median']:6.1f} ms  best {base['min']:6.1f} ms")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    result = measure(args.runs)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
