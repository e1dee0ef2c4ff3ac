"""What attrs keeping its generated code (docs/upstream/attrs, not carried) would take off our cold start.

    python -m bench.attrs_cache [--runs N]

attrs compiles the methods it generates for each class whenever the class is created: at every cold
start, for the 55 classes that importing jsonschema creates (attrs' own, referencing's,
jsonschema's). The patch keeps that code beside the defining module's bytecode, as Python keeps the
module's. This measures it on the cold start `make bench` measures: the bundle with its `.pyc` on
the runtime's Python, against a copy whose `attr/` has the patch applied and whose caches were
written by one import, as a build step would write them (the children run with -B, which reads
caches and writes none, as on Lambda's read-only /var/task). Ours stock, ours with the cache and the
baseline, interleaved in fresh processes (bench/cold_start.py). Writes reports/attrs-cache.json and
prints the medians, the best rounds and what each variant compiled at import.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.cold_start import cold_start, figures
from bench.common import BASELINE, BUILD_DIR, OURS, ROOT, Source, log
from bench.sources import bundle_sources, lambda_environment

PATCH = ROOT / "docs" / "upstream" / "attrs" / "0001-keep-generated-code-beside-the-bytecode.patch"
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


def patched_copy(bundle: Source, module: str = OURS) -> Source:
    """A copy of the bundle with the patch applied to attr/ (compiled like the bundle) and the caches
    written by one import of `module`."""
    key = hashlib.sha256(PATCH.read_bytes() + bundle.task_root.encode()).hexdigest()[:12]
    destination = BUILD_DIR / f"attrscache-{key}"
    if not destination.exists():
        scratch = BUILD_DIR / f".tmp-attrscache-{key}"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(bundle.task_root, scratch, symlinks=True)
        # git apply outside any repository (build/ lies inside this checkout); the patch's paths are
        # upstream's (src/attr/...), hence -p2, and only attr/ of it ships.
        env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(scratch.parent)}
        apply = ["git", "apply", "-p2", "--include=attr/*", str(PATCH)]
        subprocess.run(apply, cwd=scratch, env=env, check=True)  # noqa: S603 - our own patch
        compileall = [bundle.python, "-m", "compileall", "-q", "-q", "--invalidation-mode", "unchecked-hash"]
        subprocess.run([*compileall, str(scratch / "attr")], check=True)  # noqa: S603 - our interpreter
        copy = Source(
            "bundle+attrs-cache", (str(scratch), *bundle.sys_path[1:]), ("-S",), str(scratch), bundle.python
        )
        log(f"attrs' caches written by one import: {compiled_at_import(copy, module)} sources compiled")
        for stale in BUILD_DIR.glob("attrscache-*"):
            shutil.rmtree(stale, ignore_errors=True)
        scratch.rename(destination)
    return Source(
        "bundle+attrs-cache",
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
    cached = patched_copy(bundle)
    compiled = {"ours": compiled_at_import(bundle), "ours_attrs_cache": compiled_at_import(cached)}
    variants = {"baseline": (bundle, BASELINE), "ours": (bundle, OURS), "ours_attrs_cache": (cached, OURS)}
    cold = cold_start(variants, runs)
    found = figures(cold)
    base = cold["baseline"]["total_ms"]
    found["ours_attrs_cache_ratio"] = round(
        cold["ours_attrs_cache"]["total_ms"]["median"] / base["median"], 3
    )
    found["ours_attrs_cache_best_ratio"] = round(cold["ours_attrs_cache"]["total_ms"]["min"] / base["min"], 3)
    return {"sources": info, "compiled_at_import": compiled, "cold_start": cold, "figures": found}


def table(result: dict[str, Any]) -> str:
    cold, found, compiled = result["cold_start"], result["figures"], result["compiled_at_import"]
    runs = cold["ours"]["total_ms"]["runs"]
    lines = [f"cold start (import + first GET), Python {result['sources']['python']}, {runs} rounds"]
    variants = (
        ("ours", "ours (what ships)", "cold_start"),
        ("ours_attrs_cache", "ours, attrs' cache", "ours_attrs_cache"),
    )
    for name, label, figure in variants:
        total, cpu = cold[name]["total_ms"], cold[name]["cpu_ms"]
        lines.append(
            f"  {label:20s} median {total['median']:6.1f} ms  best {total['min']:6.1f} ms  "
            f"cpu median {cpu['median']:6.1f} ms  = {found[figure + '_ratio']:.3f}x "
            f"(best round {found[figure + '_best_ratio']:.3f}x)  "
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
