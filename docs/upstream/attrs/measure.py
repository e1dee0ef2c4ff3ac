"""What importing a module of attrs classes costs, stock and with this folder's patch (standard library only).

    python measure.py [--python PY] [--classes N] [--rounds R]

Copies the installed `attr` and `attrs` packages twice, applies the patch to one copy (`git apply
-p2`, its test file left out), writes a module of N attrs classes (frozen and mutable, slotted,
three to five fields, defaults, a validator), and compiles everything with PY. One warm-up import
per copy writes the bytecode and, patched, the code cache, as the first start of a program would.
Then R rounds, interleaved, of fresh `PY -S -B` processes (-B: caches are read, nothing is written),
each importing attrs first and then timing `import many_classes` alone in CPU time with the
collector off, and counting the sources attrs compiled (an audit hook on `compile`). Printed: the
fastest and the median per copy, the saving, and the compilations.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATCH = HERE / "0001-keep-generated-code-beside-the-bytecode.patch"

CHILD = """
import gc, json, sys, time
compiled = []
generated = lambda e, a: e == "compile" and str(a[1]).startswith("<attrs generated")
sys.addaudithook(lambda e, a: generated(e, a) and compiled.append(1))
gc.disable()
import attr, attrs
started = time.process_time()
import many_classes
print(json.dumps({"ms": (time.process_time() - started) * 1000, "compiled": len(compiled)}))
"""


def many_classes(count: int) -> str:
    lines = ["import attrs", ""]
    for n in range(count):
        fields = "".join(f"    f{i}: int = {i}\n" for i in range(3 + n % 3))
        decorator = "@attrs.frozen" if n % 2 else "@attrs.define"
        check = "    name: str = attrs.field(default='', validator=attrs.validators.instance_of(str))\n"
        lines.append(f"\n{decorator}\nclass C{n}:\n{fields}{check}")
    return "\n".join(lines)


def make_copy(target: Path, patched: bool, module: str, python: str) -> Path:
    import attr

    site = Path(attr.__file__).resolve().parent.parent
    for package in ("attr", "attrs"):
        shutil.copytree(site / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    if patched:
        env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(target.parent)}
        apply = ["git", "apply", "-p2", "--include=attr/*", str(PATCH)]
        subprocess.run(apply, cwd=target, env=env, check=True)  # noqa: S603
    (target / "many_classes.py").write_text(module, encoding="utf-8")
    subprocess.run([python, "-m", "compileall", "-q", "-q", str(target)], check=True)  # noqa: S603
    return target


def run(python: str, copy: Path, *flags: str) -> dict[str, float]:
    env = {"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(  # noqa: S603
        [python, "-S", *flags, "-c", CHILD], env=env, cwd=copy, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args()
    module = many_classes(args.classes)
    with tempfile.TemporaryDirectory() as scratch:
        copies = {
            name: make_copy(Path(scratch) / name, name == "patched", module, args.python)
            for name in ("stock", "patched")
        }
        first = {name: run(args.python, copy) for name, copy in copies.items()}  # writes the caches
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in copies}
        for _ in range(args.rounds):
            for name, copy in copies.items():
                samples[name].append(run(args.python, copy, "-B"))
    ask = [args.python, "-c", "import sys; print(sys.version.split()[0])"]
    version = subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    attrs_version = importlib.metadata.version("attrs")
    print(f"import of a module of {args.classes} attrs classes (attrs {attrs_version} already imported)")
    print(f"CPU ms, Python {version}, {args.rounds} rounds: fastest / median")
    stock = [s["ms"] for s in samples["stock"]]
    for name, rows in samples.items():
        ms = [r["ms"] for r in rows]
        fastest, median = min(ms), statistics.median(ms)
        saving = f"  saves {min(stock) - fastest:.2f} / {statistics.median(stock) - median:.2f}"
        compiled = (
            f"compiled {int(rows[0]['compiled'])} sources (first import: {int(first[name]['compiled'])})"
        )
        print(f"  {name:8s} {fastest:7.2f} / {median:7.2f}  {compiled}" + ("" if name == "stock" else saving))


if __name__ == "__main__":
    main()
