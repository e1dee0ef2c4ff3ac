"""Each connexion patch's own effect, measured where it acts, in fresh processes.

    python -m bench.upstream_effect [--rounds N] [--requests N]

`make bench` measures our whole cold start, with the patches (the bundle ships the carried build),
which on a shared machine moves by tens of ms from run to run. This measures each patch on the
step it changes, alternating processes with the stock release and with a patched copy round by
round (medians, and the best round):

- 0001 lazy imports:   `import connexion` + `from connexion import AsyncApp`, in a fresh process
  that sees what the Lambda bundle sees (-S -B, the bundle with its bytecode, the runtime's boto3;
  the venv's site-packages last, for what only stock imports), the patched copy first on the path;
- 0002 validate_spec:  `add_api(contract)` of our contract, first call, stock vs `validate_spec=False`;
- 0003 caching, 0004 request proxy, 0005 awaitables: connexion's own time per request (an AsyncApp
  with parameter, body and API-key validation, driven in-process through ASGI), stock vs patched.
Writes reports/upstream-effect.json and prints a table.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import random
import statistics
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from upstream.patches import COMPILEALL, PATCHES, ROOT, TESTS_DIR, patched_copy

REPORT = ROOT / "reports" / "upstream-effect.json"

IMPORT = """
import json, sys, time
sys.modules["flask"] = None  # not in the bundle
started, cpu = time.perf_counter(), time.process_time()
import connexion
from connexion import AsyncApp
print(json.dumps({"wall": (time.perf_counter() - started) * 1000, "cpu": (time.process_time() - cpu) * 1000}))
"""

ADD_API = """
import json, sys, time
sys.modules["flask"] = None
from connexion import AsyncApp
document = json.loads(open(sys.argv[1], encoding="utf-8").read())
options = json.loads(sys.argv[2])
app = AsyncApp(__name__)
started, cpu = time.perf_counter(), time.process_time()
app.add_api(document, **options)
print(json.dumps({"wall": (time.perf_counter() - started) * 1000, "cpu": (time.process_time() - cpu) * 1000}))
"""

REQUESTS = """
import asyncio, json, statistics, sys, time
sys.modules["flask"] = None
from connexion import AsyncApp
count = int(sys.argv[1])
app = AsyncApp(__name__)
app.add_api(json.loads(open(sys.argv[2], encoding="utf-8").read()))
body = json.dumps({"name": "ada"}).encode()
post = [(b"host", b"t"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
get = [(b"host", b"t"), (b"x-key", b"secret")]

async def one(method, path, headers, payload=b""):
    sent = []
    async def receive():
        return {"type": "http.request", "body": payload, "more_body": False}
    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": headers, "server": ("t", 80)}
    started = time.perf_counter_ns()
    await app(scope, receive, send)
    elapsed = (time.perf_counter_ns() - started) / 1e6
    assert sent[0]["status"] == 200, sent[0]
    return elapsed

async def main():
    for _ in range(50):
        await one("POST", "/items/7", post, body)
        await one("GET", "/hello", get)
    posts, gets = [], []
    for _ in range(count):
        posts.append(await one("POST", "/items/7", post, body))
        gets.append(await one("GET", "/hello", get))
    print(json.dumps({"POST": statistics.median(posts), "GET": statistics.median(gets)}))

asyncio.run(main())
"""


# The operations of docs/upstream/connexion/tests/test_cached_decoration.py (views.py serves them).
ITEM_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}},
}
REQUESTS_SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "per-request cost", "version": "1"},
    "paths": {
        "/items/{item_id}": {
            "post": {
                "operationId": "views.item",
                "parameters": [
                    {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ITEM_SCHEMA}}},
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/hello": {
            "get": {
                "operationId": "views.hello",
                "security": [{"key": []}],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "key": {
                "type": "apiKey",
                "in": "header",
                "name": "X-Key",
                "x-apikeyInfoFunc": "views.api_key_info",
            }
        }
    },
}


Variant = tuple[str, str, Sequence[str], Sequence[str], Sequence[str]]  # python, code, path, flags, args


def _run(python: str, code: str, sys_path: Sequence[str], flags: Sequence[str], args: Sequence[str]) -> str:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(sys_path)
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [python, *flags, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-2000:])
    return completed.stdout.strip().splitlines()[-1]


def _interleaved(variants: dict[str, Variant], rounds: int, seed: int = 14) -> dict[str, list[str]]:
    """Each variant once per round in a shuffled order; round 0 is discarded."""
    rng = random.Random(seed)  # noqa: S311 - an order, not a secret
    results: dict[str, list[str]] = {name: [] for name in variants}
    for number in range(rounds + 1):
        order = list(variants)
        rng.shuffle(order)
        for name in order:
            output = _run(*variants[name])
            if number:
                results[name].append(output)
    return results


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "runs": len(values)}


def _by_clock(outputs: dict[str, list[str]]) -> dict[str, dict[str, dict[str, float]]]:
    """{variant: {"wall": stats, "cpu": stats}} from the children's JSON lines."""
    parsed = {name: [json.loads(v) for v in values] for name, values in outputs.items()}
    return {
        name: {clock: _stats([v[clock] for v in values]) for clock in ("wall", "cpu")}
        for name, values in parsed.items()
    }


def measure(rounds: int, requests: int) -> dict[str, Any]:
    from bench.sources import bundle_sources
    from infra.bundle import NOT_IMPORTED
    from service.contract import get_contract

    bundle = bundle_sources()[0]
    python = bundle.python  # the Lambda runtime's Python where the machine has it, as the bundle's
    paths = (*bundle.sys_path, sysconfig.get_paths()["purelib"])
    copies = {"stock": patched_copy(()), **{p.number: patched_copy((p,)) for p in PATCHES}}
    copies["all"] = patched_copy(PATCHES)
    # Bytecode for the children's Python (they run with -B): each copy's, and that of what only stock
    # imports from the venv (what the bundle leaves out, by import name), as a bundle's would be.
    left_out = {name.lower() for name in NOT_IMPORTED}
    by_import = importlib.metadata.packages_distributions()  # import name -> distributions
    names = [name for name, dists in by_import.items() if {d.lower() for d in dists} & left_out]
    only_stock = [Path(paths[-1]) / name for name in names if (Path(paths[-1]) / name).is_dir()]
    for folder in (*(copy / "connexion" for copy in copies.values()), *only_stock):
        subprocess.run([python, *COMPILEALL[1:], str(folder)], check=True)  # noqa: S603
    result: dict[str, Any] = {"rounds": rounds, "requests_per_round": requests, "python": python}

    def variant(copy: str, code: str, args: Sequence[str], *extra_path: str) -> Variant:
        return (python, code, (str(copies[copy]), *extra_path, *paths), ("-S", "-B"), args)

    imports = _interleaved({name: variant(name, IMPORT, ()) for name in ("stock", "0001", "all")}, rounds)
    result["import_ms"] = _by_clock(imports)

    contract = ROOT / "build" / "upstream" / "contract.json"
    contract.write_text(json.dumps(dict(get_contract().document)), encoding="utf-8")
    skip = json.dumps({"validate_spec": False})
    add_api = _interleaved(
        {
            "stock": variant("stock", ADD_API, (str(contract), "{}")),
            "0002": variant("0002", ADD_API, (str(contract), "{}")),
            "0002, validate_spec=False": variant("0002", ADD_API, (str(contract), skip)),
        },
        rounds,
    )
    result["add_api_ms"] = _by_clock(add_api)
    result["operations"] = len(get_contract().operations)

    requests_spec = ROOT / "build" / "upstream" / "requests-spec.json"
    requests_spec.write_text(json.dumps(REQUESTS_SPEC), encoding="utf-8")
    arguments = (str(requests), str(requests_spec))
    measured = ("stock", "0003", "0004", "0005", "all")
    per_request = _interleaved({n: variant(n, REQUESTS, arguments, str(TESTS_DIR)) for n in measured}, rounds)
    result["request_ms"] = {
        name: {method: _stats([json.loads(v)[method] for v in values]) for method in ("POST", "GET")}
        for name, values in per_request.items()
    }
    return result


LABELS = {"POST": "path parameter + JSON body validated", "GET": "API key checked"}


def table(result: dict[str, Any]) -> str:
    """Medians of the rounds; CPU time is what contention on a shared machine moves least."""
    imports, add_api, per_request = result["import_ms"], result["add_api_ms"], result["request_ms"]
    lines = [
        "| patch | step | clock | stock 3.3.0 | patched | saved (median) | saved (best round) |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(patch: str, step: str, clock: str, stock: dict[str, float], patched: dict[str, float]) -> None:
        saved, best = stock["median"] - patched["median"], stock["min"] - patched["min"]
        lines.append(
            f"| {patch} | {step} | {clock} | {stock['median']:.3f} ms | {patched['median']:.3f} ms "
            f"| {saved:.3f} ms ({saved / stock['median']:.0%}) | {best:.3f} ms |"
        )

    step = "import connexion + AsyncApp (bundle, fresh process)"
    ops = result["operations"]
    for clock in ("cpu", "wall"):
        row("0001", step, clock, imports["stock"][clock], imports["0001"][clock])
        row(f"all {len(PATCHES)}", step, clock, imports["stock"][clock], imports["all"][clock])
    for clock in ("cpu", "wall"):
        stock = add_api["stock"][clock]
        row(
            "0002", f"add_api, our contract ({ops} operations), default", clock, stock, add_api["0002"][clock]
        )
        off = add_api["0002, validate_spec=False"][clock]
        row("0002", f"add_api, our contract ({ops} operations), validate_spec=False", clock, stock, off)
    for method in ("POST", "GET"):
        stock, step = per_request["stock"][method], f"per request, {method} ({LABELS[method]})"
        for patch in ("0003", "0004", "0005"):
            row(patch, step, "wall", stock, per_request[patch][method])
        row(f"all {len(PATCHES)}", f"per request, {method}", "wall", stock, per_request["all"][method])
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="each connexion patch's own effect")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=1000, help="requests of each method per round")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    started = time.time()
    result = measure(args.rounds, args.requests)
    result["duration_s"] = round(time.time() - started, 1)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["command"] = f"python -m bench.upstream_effect --rounds {args.rounds} --requests {args.requests}"
    result["table"] = table(result)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(result["table"])
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
