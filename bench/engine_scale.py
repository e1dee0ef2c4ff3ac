"""Engine scale: the project's create and list against the embedded engine as the table grows.

One engine process holds one table per size, filled with BatchWriteItem with the items a create
writes (user and email guard, built by service.repository). Creates go through the service's own
repository (one TransactWriteItems of conditional Puts), each timed, in blocks that rotate over
the tables so that the machine's noise falls on every size alike; each block's users are
deleted again, so every table keeps its size. After each table is filled the engine's resident
memory is read from /proc (it then holds that table and the smaller ones: 100, 1,100, 11,100
users). The figures: the ratio of the median create latency at the largest size to the smallest
(flat transaction cost: <= 2x) and the RSS once the largest table is filled (flat memory:
<= 300 MB).

The list row (`list_scale`, `list_rows`): one engine, one table per size (100 and 10,000 users by
default), the service's own `listUsers` call through the repository (a Query of the listing index,
newest first, 20 users a page): the first pages of each table, each timed, in blocks that rotate
over the sizes. The figure: the ratio of the median page latency at the largest size to the
smallest (a page reads its page, not the table: <= 1.5x).

    python -m bench.engine_scale [--sizes 100,1000,10000] [--creates 200] [--stock]
    python -m bench.engine_scale --list [--list-sizes 100,10000] [--pages 200] [--stock]

`--stock` runs moto exactly as installed, for the before/after in docs/upstream/moto/ (keep the
sizes small: it deep-copies the table on every create).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local.dynamodb_admin import admin_client
from local.engine import LocalEngine
from local.tables import ensure_table

SIZES = (100, 1_000, 10_000)
CREATES = 200
TABLE = "users-engine-scale"
TARGETS = {"engine_create_ratio": 2.0, "engine_rss_mb": 300.0}
BATCH = 12  # users per BatchWriteItem: 24 items of its limit of 25
BLOCK = 5  # timed creates per table before moving to the next size (short: noise hits every size)
WARM_UP = 10  # creates per table before timing (not counted)


def rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process now (VmRSS) and at its peak (VmHWM), in MB (10^6 bytes)."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found["rss_mb" if name == "VmRSS" else "peak_rss_mb"] = round(
                int(value.split()[0]) * 1024 / 1e6, 1
            )
    return found


def _items(email: str) -> list[dict[str, Any]]:
    """The two items of a new user, exactly as service.repository writes them (user, email guard)."""
    from service.repository import _user_item, email_key
    from service.users import new_user

    user = new_user("Seeded User", email)
    return [_user_item(user), {**email_key(email), "userId": {"S": user.user_id}}]


def seed(client: Any, table: str, users: int) -> None:
    for start in range(0, users, BATCH):
        requests = []
        for _ in range(min(BATCH, users - start)):
            email = f"s-{uuid.uuid4().hex}@example.com"
            requests += [{"PutRequest": {"Item": item}} for item in _items(email)]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    for start in range(0, len(requests), 2 * BATCH):
        pending: dict[str, Any] = {table: requests[start : start + 2 * BATCH]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def timed_block(client: Any, repository: Any, table: str, count: int) -> list[float]:
    """`count` creates through the repository, each timed; then their items are deleted again,
    so that the table keeps its size."""
    from service.repository import email_key, user_key
    from service.users import new_user

    timings: list[float] = []
    created = []
    for _ in range(count):
        user = new_user("Ada Lovelace", f"c-{uuid.uuid4().hex[:16]}@example.com")
        started = time.perf_counter()
        repository.add(user)
        timings.append((time.perf_counter() - started) * 1000)
        created.append(user)
    keys = [key for user in created for key in (user_key(user.user_id), email_key(user.email))]
    _write(client, table, [{"DeleteRequest": {"Key": key}} for key in keys])
    return timings


def engine_scale(
    sizes: Sequence[int] = SIZES, creates: int = CREATES, *, stock: bool = False, log: Any = None
) -> dict[str, Any]:
    """One engine, one table per size. The creates are timed in blocks that rotate over the
    sizes, so that the machine's noise falls on every size alike."""
    from service.repository import DynamoUserRepository

    sizes = sorted(sizes)
    by_size: dict[str, dict[str, Any]] = {}
    timings: dict[int, list[float]] = {size: [] for size in sizes}
    with LocalEngine(stock=stock) as engine:
        assert engine.pid is not None
        client = admin_client(engine.endpoint, timeout=120.0)
        repositories = {}
        engine_users = 0
        for size in sizes:
            table = f"{TABLE}-{size}"
            ensure_table(client, table)
            seed(client, table, size)
            engine_users += size
            repository = DynamoUserRepository(admin_client(engine.endpoint, timeout=120.0), table)
            timed_block(client, repository, table, WARM_UP)
            repositories[size] = (repository, table)
            by_size[str(size)] = {"engine_users": engine_users, **rss_mb(engine.pid)}
            if log is not None:
                log(
                    f"engine scale: table of {size} users ready, engine RSS {by_size[str(size)]['rss_mb']} MB"
                )
        blocks = max(1, -(-creates // BLOCK))
        for number in range(blocks):
            order = sizes[number % len(sizes) :] + sizes[: number % len(sizes)]
            for size in order:
                repository, table = repositories[size]
                count = min(BLOCK, creates - number * BLOCK)
                timings[size] += timed_block(client, repository, table, count)
        final = rss_mb(engine.pid)
    for size in sizes:
        values = timings[size]
        by_size[str(size)]["create_ms"] = {
            "median": round(statistics.median(values), 3),
            "p90": round(statistics.quantiles(values, n=10)[-1], 3) if len(values) > 1 else values[0],
            "runs": len(values),
        }
        if log is not None:
            log(f"engine scale: {size} users, create median {by_size[str(size)]['create_ms']['median']} ms")
    smallest, largest = str(sizes[0]), str(sizes[-1])
    ratio = by_size[largest]["create_ms"]["median"] / by_size[smallest]["create_ms"]["median"]
    return {
        "engine": "stock moto" if stock else "moto + undo log (local/engine.py)",
        "sizes": by_size,
        "creates_per_size": creates,
        "smallest": int(smallest),
        "largest": int(largest),
        "create_ratio": round(ratio, 3),
        "rss_mb_at_largest": by_size[largest]["rss_mb"],
        "rss_mb_at_end": final["rss_mb"],
        "peak_rss_mb": final["peak_rss_mb"],
    }


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Table rows: (figure, measured, target, met or None when only reported)."""
    sizes = result["sizes"]
    latencies = ", ".join(
        f"{int(size):,}: {row['create_ms']['median']:.2f} ms" for size, row in sizes.items()
    )
    memory = ", ".join(f"{row['engine_users']:,} users: {row['rss_mb']:.0f} MB" for row in sizes.values())
    smallest, largest = f"{result['smallest']:,}", f"{result['largest']:,}"
    return [
        (
            f"engine create latency ({largest} vs {smallest} users)",
            f"{latencies} = {result['create_ratio']:.2f}x",
            "<= 2x",
            result["create_ratio"] <= TARGETS["engine_create_ratio"],
        ),
        (
            f"engine RSS with a table of {largest} users",
            memory,
            "<= 300 MB",
            result["rss_mb_at_largest"] <= TARGETS["engine_rss_mb"],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(size) for size in SIZES))
    parser.add_argument("--creates", type=int, default=CREATES)
    parser.add_argument("--stock", action="store_true", help="moto as installed (no engine fixes)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    result = engine_scale(sizes, args.creates, stock=args.stock, log=log)
    print(json.dumps(result, indent=2))
    for figure, measured, target, met in rows(result):
        print(f"{figure}: {measured} (target {target}: {'met' if met else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
