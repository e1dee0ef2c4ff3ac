"""Engine scale: the project's create against the embedded engine as its table grows.

One engine process, one table. The table is filled (BatchWriteItem, the same two items per user
as a create writes) to each size in turn, then `creates` users are created through the service's
own repository (one TransactWriteItems of two conditional Puts), each timed. After each size the
engine's resident memory is read from /proc. The figures: the ratio of the median create latency
at the largest size to the smallest (flat transaction cost: <= 2), and the RSS at the largest
size (flat memory: <= 300 MB).

    python -m bench.engine_scale [--sizes 100,1000,10000] [--creates 200] [--stock]

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


def _items(user_id: str, email: str) -> list[dict[str, Any]]:
    """The two items of a user, shaped as service.repository writes them."""
    from service.repository import email_key, user_key

    now = "2026-01-01T00:00:00.000Z"
    return [
        {
            **user_key(user_id),
            "userId": {"S": user_id},
            "name": {"S": "Seeded User"},
            "email": {"S": email},
            "createdAt": {"S": now},
            "updatedAt": {"S": now},
        },
        {**email_key(email), "userId": {"S": user_id}},
    ]


def seed(client: Any, table: str, users: int) -> None:
    for start in range(0, users, BATCH):
        requests = []
        for _ in range(min(BATCH, users - start)):
            user_id = str(uuid.uuid4())
            requests += [
                {"PutRequest": {"Item": item}} for item in _items(user_id, f"s-{user_id}@example.com")
            ]
        pending: dict[str, Any] = {table: requests}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def timed_creates(repository: Any, count: int) -> list[float]:
    from service.users import new_user

    timings: list[float] = []
    for _ in range(count):
        user = new_user("Ada Lovelace", f"c-{uuid.uuid4().hex[:16]}@example.com")
        started = time.perf_counter()
        repository.add(user)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def engine_scale(
    sizes: Sequence[int] = SIZES, creates: int = CREATES, *, stock: bool = False, log: Any = None
) -> dict[str, Any]:
    from service.repository import DynamoUserRepository

    by_size: dict[str, dict[str, Any]] = {}
    with LocalEngine(stock=stock) as engine:
        assert engine.pid is not None
        client = admin_client(engine.endpoint, timeout=60.0)
        ensure_table(client, TABLE)
        repository = DynamoUserRepository(admin_client(engine.endpoint, timeout=60.0), TABLE)
        users = 0
        for size in sorted(sizes):
            seed(client, TABLE, size - users)
            timed_creates(repository, min(10, creates))  # warm-up, not counted
            timings = timed_creates(repository, creates)
            users = size + creates + min(10, creates)
            by_size[str(size)] = {
                "create_ms": {
                    "median": round(statistics.median(timings), 3),
                    "p90": round(statistics.quantiles(timings, n=10)[-1], 3)
                    if len(timings) > 1
                    else timings[0],
                    "runs": len(timings),
                },
                **rss_mb(engine.pid),
                "users_after": users,
            }
            if log is not None:
                median = by_size[str(size)]["create_ms"]["median"]
                log(f"engine scale: {size} users, create median {median} ms")
    smallest, largest = str(min(sizes)), str(max(sizes))
    ratio = by_size[largest]["create_ms"]["median"] / by_size[smallest]["create_ms"]["median"]
    return {
        "engine": "stock moto" if stock else "moto + undo log (local/engine.py)",
        "sizes": by_size,
        "creates_per_size": creates,
        "smallest": int(smallest),
        "largest": int(largest),
        "create_ratio": round(ratio, 3),
        "rss_mb_at_largest": by_size[largest]["rss_mb"],
    }


def rows(result: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Table rows: (figure, measured, target, met or None when only reported)."""
    sizes = result["sizes"]
    latencies = ", ".join(
        f"{int(size):,}: {row['create_ms']['median']:.2f} ms" for size, row in sizes.items()
    )
    memory = ", ".join(f"{int(size):,}: {row['rss_mb']:.0f} MB" for size, row in sizes.items())
    smallest, largest = f"{result['smallest']:,}", f"{result['largest']:,}"
    return [
        (
            f"engine create latency ({largest} vs {smallest} users)",
            f"{latencies} = {result['create_ratio']:.2f}x",
            "<= 2x",
            result["create_ratio"] <= TARGETS["engine_create_ratio"],
        ),
        (
            f"engine RSS at {largest} users",
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
    parser.add_argument("--stock", action="store_true", help="moto as installed (no undo log)")
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
