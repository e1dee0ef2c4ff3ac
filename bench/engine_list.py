"""The engine's listUsers row of `make bench`: a page's latency at 10,000 users against 100.

    python -m bench.engine_list [--sizes 100,10000] [--pages 200] [--stock]

One engine (local/engine.py, or stock moto with --stock), one table per size seeded as
bench.engine_scale seeds them; pages of GET /users?limit=20 are read through the service's own
repository in walks of the first few pages that rotate over the sizes, so noise falls on every size.
The figure is the ratio of the largest size's median page latency to the smallest's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.engine_scale import TABLE, seed
from local.dynamodb_admin import admin_client
from local.engine import LocalEngine
from local.tables import ensure_table

LIST_SIZES = (100, 10_000)
LIST_PAGES = 200  # timed pages per size
LIST_PAGE_SIZE = 20  # users per page, as GET /users?limit=20
LIST_DEPTH = 4  # a timed walk reads the first this many pages (the 100-user table has 5)
LIST_TARGETS = {"engine_list_ratio": 1.5}


def timed_walk(repository: Any, pages: int) -> list[float]:
    """The first `pages` pages of the listing (fewer if it ends), each call timed."""
    timings: list[float] = []
    after = None
    for _ in range(pages):
        started = time.perf_counter()
        _, after = repository.list(LIST_PAGE_SIZE, after)
        timings.append((time.perf_counter() - started) * 1000)
        if after is None:
            break
    return timings


def list_scale(
    sizes: Sequence[int] = LIST_SIZES, pages: int = LIST_PAGES, *, stock: bool = False, log: Any = None
) -> dict[str, Any]:
    """One engine, one table per size; listUsers pages timed in walks that rotate over the sizes."""
    from service.repository import DynamoUserRepository

    sizes = sorted(sizes)
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    with LocalEngine(stock=stock) as engine:
        client = admin_client(engine.endpoint, timeout=120.0)
        repositories = {}
        for size in sizes:
            table = f"{TABLE}-list-{size}"
            ensure_table(client, table)
            seed(client, table, size)
            repositories[size] = DynamoUserRepository(admin_client(engine.endpoint, timeout=120.0), table)
            timed_walk(repositories[size], LIST_DEPTH)  # warm-up (not counted)
            if log is not None:
                log(f"engine list: table of {size} users ready")
        number = 0
        while min(len(values) for values in timings.values()) < pages:
            order = sizes[number % len(sizes) :] + sizes[: number % len(sizes)]
            for size in order:
                if len(timings[size]) < pages:
                    timings[size] += timed_walk(
                        repositories[size], min(LIST_DEPTH, pages - len(timings[size]))
                    )
            number += 1
    by_size: dict[str, dict[str, Any]] = {}
    for size in sizes:
        values = timings[size]
        by_size[str(size)] = {
            "page_ms": {
                "median": round(statistics.median(values), 3),
                "p90": round(statistics.quantiles(values, n=10)[-1], 3) if len(values) > 1 else values[0],
                "runs": len(values),
            }
        }
        if log is not None:
            log(f"engine list: {size} users, page median {by_size[str(size)]['page_ms']['median']} ms")
    smallest, largest = str(sizes[0]), str(sizes[-1])
    ratio = by_size[largest]["page_ms"]["median"] / by_size[smallest]["page_ms"]["median"]
    return {
        "engine": "stock moto" if stock else "moto + undo log + ordered indexes (local/engine.py)",
        "sizes": by_size,
        "pages_per_size": pages,
        "page_size": LIST_PAGE_SIZE,
        "smallest": int(smallest),
        "largest": int(largest),
        "list_ratio": round(ratio, 3),
    }


def list_rows(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """The list row: (figure, measured, target, met)."""
    latencies = ", ".join(
        f"{int(size):,}: {row['page_ms']['median']:.2f} ms" for size, row in result["sizes"].items()
    )
    smallest, largest = f"{result['smallest']:,}", f"{result['largest']:,}"
    return [
        (
            f"engine listUsers page latency ({largest} vs {smallest} users)",
            f"{latencies} = {result['list_ratio']:.2f}x",
            "<= 1.5x",
            result["list_ratio"] <= LIST_TARGETS["engine_list_ratio"],
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(size) for size in LIST_SIZES))
    parser.add_argument("--pages", type=int, default=LIST_PAGES)
    parser.add_argument("--stock", action="store_true", help="moto as installed (no engine fixes)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    listed = list_scale([int(size) for size in args.sizes.split(",")], args.pages, stock=args.stock, log=log)
    print(json.dumps(listed, indent=2))
    for figure, measured, target, met in list_rows(listed):
        print(f"{figure}: {measured} (target {target}: {'met' if met else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
