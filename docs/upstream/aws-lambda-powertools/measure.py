"""What one structured log line costs, stock and with each patch of this folder (standard library only).

    python measure.py [--python PY] [--site DIR] [--stock STOCK] [--rounds N] [--lines M]

Copies the `aws_lambda_powertools` package of STOCK (the release's wheel, or a folder holding its
`aws_lambda_powertools/`; default: the wheel `make upstream-check` caches in build/upstream/dist),
applies the patches of this folder to copies of it (`patch -p1 --fuzz=0`; the patches' test files
apply too, nothing runs them here), compiles each copy with PY, and runs N fresh `PY -S -B`
processes per copy, interleaved, with DIR (default: where this interpreter imports Powertools'
dependencies from) after the copy on the path. Each process makes a Logger writing to a stream that
drops what it is given, then, inside an asyncio task as a request behind Mangum is, writes M lines
the way the function's access line is written (the message "request", six extra keys) and times
them with the collector off. Printed: the fastest and the median microseconds per line per copy,
each patch's saving on both, and the keys of the line beyond the request's own (`taskName` on
Python 3.12+ when stock).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PATCHES = sorted((HERE / "patches").glob("[0-9][0-9][0-9][0-9]-*.patch"))
PACKAGE = "aws_lambda_powertools"
RELEASE = ROOT / "build" / "upstream" / "dist" / f"{PACKAGE}-3.37.0-py3-none-any.whl"

CHILD = """
import asyncio, gc, io, json, sys, time
from aws_lambda_powertools import Logger

class Drop(io.TextIOBase):
    def write(self, text):
        return len(text)

EXTRA = {"method": "GET", "route": "getUser", "status": 200, "latency_ms": 1.234,
         "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "consumer": "billing"}
lines = int(sys.argv[1])
logger = Logger(service="users-api", stream=Drop())
sample = io.StringIO()
sampler = Logger(service="users-api-sample", stream=sample)

async def request():
    sampler.info("request", extra=EXTRA)
    for _ in range(200):
        logger.info("request", extra=EXTRA)
    gc.collect()
    gc.disable()
    started = time.perf_counter()
    for _ in range(lines):
        logger.info("request", extra=EXTRA)
    return (time.perf_counter() - started) / lines * 1e6

us = asyncio.run(request())
keys = sorted(set(json.loads(sample.getvalue())) - set(EXTRA))
print(json.dumps({"us": us, "keys": keys}))
"""


def default_site() -> Path:
    spec = importlib.util.find_spec("jmespath")  # one of Powertools' dependencies, where this Python has them
    if spec is None or spec.origin is None:
        raise SystemExit("no jmespath here: give --site, a folder holding Powertools' dependencies")
    return Path(spec.origin).resolve().parent.parent


def unpack_stock(stock: Path, target: Path) -> Path:
    if stock.is_file():
        with zipfile.ZipFile(stock) as archive:
            archive.extractall(target, members=[m for m in archive.namelist() if m.startswith(f"{PACKAGE}/")])
    else:
        shutil.copytree(stock / PACKAGE, target / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def make_copy(stock: Path, target: Path, patches: list[Path], python: str) -> Path:
    shutil.copytree(stock / PACKAGE, target / PACKAGE)
    for patch in patches:
        with patch.open("rb") as handle:
            subprocess.run(["patch", "-s", "-p1", "--fuzz=0"], cwd=target, stdin=handle, check=True)  # noqa: S607
    subprocess.run([python, "-m", "compileall", "-q", "-q", str(target / PACKAGE)], check=True)  # noqa: S603
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--site", type=Path, default=None)
    parser.add_argument("--stock", type=Path, default=RELEASE, help="the release's wheel, or its folder")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()
    site = (args.site or default_site()).resolve()
    variants = {"stock": [], **{p.name.split("-", 1)[0]: [p] for p in PATCHES}, "all": PATCHES}
    with tempfile.TemporaryDirectory() as scratch:
        stock = unpack_stock(args.stock.resolve(), Path(scratch) / "release")
        copies = {
            name: make_copy(stock, Path(scratch) / name, p, args.python) for name, p in variants.items()
        }
        samples: dict[str, list[dict[str, object]]] = {name: [] for name in copies}
        for _ in range(args.rounds):
            for name, copy in copies.items():
                env = {"PYTHONPATH": f"{copy}:{site}", "PATH": "/usr/bin:/bin"}
                argv = [args.python, "-S", "-B", "-c", CHILD, str(args.lines)]
                out = subprocess.run(argv, env=env, cwd=scratch, capture_output=True, text=True, check=True)  # noqa: S603
                samples[name].append(json.loads(out.stdout))
    ask = [args.python, "-c", "import sys; print(sys.version.split()[0])"]
    version = subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    print(f"logger.info() of an access line in an asyncio task, microseconds per line, Python {version}")
    print(f"{args.rounds} rounds of {args.lines} lines, fastest and median per copy")
    stock_us = [float(str(s["us"])) for s in samples["stock"]]
    for name, rows in samples.items():
        us = [float(str(r["us"])) for r in rows]
        fastest, median = min(us), statistics.median(us)
        saving = f"  saves {min(stock_us) - fastest:5.2f} / {statistics.median(stock_us) - median:5.2f}"
        other = rows[0]["keys"]
        assert isinstance(other, list)
        keys = f"other keys: {', '.join(map(str, other))}"
        line = f"  {name:6s} {fastest:6.2f} / {median:6.2f}" + ("" if name == "stock" else saving)
        print(f"{line}  {keys}")


if __name__ == "__main__":
    main()
