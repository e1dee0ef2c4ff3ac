"""What importing a module of attrs classes costs, stock and with this folder's patch (standard library only).

    python measure.py [--wheel WHEEL] [--python PY] [--classes N] [--rounds R]

Unpacks the `attr` and `attrs` packages of the release WHEEL (default: attrs 26.1.0's, as `make
install` keeps it under build/upstream/dist) twice, applies the patch to one copy (`git apply -p2`,
its test file left out), writes a module of N attrs classes (frozen and mutable, slotted,
three to five fields, defaults, a validator), and compiles everything with PY. One warm-up import
per copy writes the bytecode and, patched, the code cache, as the first start of a program would.
Then R rounds, interleaved, of fresh `PY -S -B` processes (-B: caches are read, nothing is written),
each importing attrs first and then timing `import many_classes` alone in CPU time with the
collector off, and counting the sources attrs compiled (an audit hook on `compile`). Printed: the
fastest and the median per copy, the saving, and the compilations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATCH = HERE / "patches" / "0001-keep-generated-code-beside-the-bytecode.patch"
WHEEL = HERE.parents[2] / "build" / "upstream" / "dist" / "attrs-26.1.0-py3-none-any.whl"

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


def make_copy(wheel: Path, target: Path, patched: bool, module: str, python: str) -> Path:
    with zipfile.ZipFile(wheel) as archive:
        packages = [name for name in archive.namelist() if name.split("/", 1)[0] in ("attr", "attrs")]
        archive.extractall(target, members=packages)
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
    parser.add_argument("--wheel", type=Path, default=WHEEL)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args()
    module = many_classes(args.classes)
    with tempfile.TemporaryDirectory() as scratch:
        copies = {
            name: make_copy(args.wheel, Path(scratch) / name, name == "patched", module, args.python)
            for name in ("stock", "patched")
        }
        first = {name: run(args.python, copy) for name, copy in copies.items()}  # writes the caches
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in copies}
        for _ in range(args.rounds):
            for name, copy in copies.items():
                samples[name].append(run(args.python, copy, "-B"))
    ask = [args.python, "-c", "import sys; print(sys.version.split()[0])"]
    version = subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    attrs_version = args.wheel.name.split("-")[1]
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
