"""What importing jsonschema costs, stock and with each patch of this folder (standard library only).

    python measure.py [--python PY] [--site DIR] [--stock STOCK] [--rounds N] [--preload MODULES]

Copies the `jsonschema` package found in STOCK (default: DIR; default DIR: where this interpreter
imports jsonschema from; STOCK must hold the release itself, not a build with these patches), applies
the patches of this folder to copies of it (`patch -p1 --fuzz=0`; the patches' test files apply
too, nothing runs them here), compiles each copy with PY, and runs N fresh `PY -S -B` processes
per copy, interleaved. Each process imports jsonschema's dependencies first (attrs, rpds,
referencing, jsonschema_specifications, from DIR) and the comma-separated MODULES (what an
application has imported before, e.g. `decimal`), then times `import jsonschema` alone in CPU time
with the collector off, and says whether `fractions` and `idna` were imported. Printed: the fastest
and the median per copy, and each patch's saving on both.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATCHES = sorted((HERE / "patches").glob("[0-9][0-9][0-9][0-9]-*.patch"))

CHILD = """
import gc, json, sys, time
gc.disable()
import attr, rpds, referencing, referencing.jsonschema, jsonschema_specifications
for name in sys.argv[1:]:
    __import__(name)
started = time.process_time()
import jsonschema
elapsed = (time.process_time() - started) * 1000
print(json.dumps({"ms": elapsed, "fractions": "fractions" in sys.modules, "idna": "idna" in sys.modules}))
"""


def default_site() -> Path:
    import jsonschema

    return Path(jsonschema.__file__).resolve().parent.parent


def make_copy(site: Path, target: Path, patches: list[Path], python: str) -> Path:
    shutil.copytree(site / "jsonschema", target / "jsonschema", ignore=shutil.ignore_patterns("__pycache__"))
    for patch in patches:
        with patch.open("rb") as handle:
            subprocess.run(["patch", "-s", "-p1", "--fuzz=0"], cwd=target, stdin=handle, check=True)  # noqa: S607
    subprocess.run([python, "-m", "compileall", "-q", "-q", str(target)], check=True)  # noqa: S603
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--site", type=Path, default=None)
    parser.add_argument("--stock", type=Path, default=None, help="the folder holding the stock jsonschema/")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--preload", default="", help="modules imported before jsonschema, comma-separated")
    args = parser.parse_args()
    site = (args.site or default_site()).resolve()
    stock_site = (args.stock or site).resolve()
    variants = {"stock": [], **{p.name.split("-", 1)[0]: [p] for p in PATCHES}, "all": PATCHES}
    with tempfile.TemporaryDirectory() as scratch:
        copies = {
            name: make_copy(stock_site, Path(scratch) / name, p, args.python) for name, p in variants.items()
        }
        samples: dict[str, list[dict[str, float | bool]]] = {name: [] for name in copies}
        for _ in range(args.rounds):
            for name, copy in copies.items():
                env = {"PYTHONPATH": f"{copy}:{site}", "PATH": "/usr/bin:/bin"}
                argv = [args.python, "-S", "-B", "-c", CHILD, *filter(None, args.preload.split(","))]
                out = subprocess.run(argv, env=env, cwd=scratch, capture_output=True, text=True, check=True)  # noqa: S603
                samples[name].append(json.loads(out.stdout))
    ask = [args.python, "-c", "import sys; print(sys.version.split()[0])"]
    version = subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    preloaded = f" and {args.preload}" if args.preload else ""
    print(f"import jsonschema (its dependencies{preloaded} already imported), CPU ms, Python {version}")
    print(f"{args.rounds} rounds, fastest and median per copy")
    stock = [float(s["ms"]) for s in samples["stock"]]
    for name, rows in samples.items():
        ms = [float(r["ms"]) for r in rows]
        fastest, median = min(ms), statistics.median(ms)
        saving = f"  saves {min(stock) - fastest:.2f} / {statistics.median(stock) - median:.2f}"
        imports = f"imports fractions: {rows[0]['fractions']}, idna: {rows[0]['idna']}"
        print(f"  {name:6s} {fastest:6.2f} / {median:6.2f}  {imports}" + ("" if name == "stock" else saving))


if __name__ == "__main__":
    main()
