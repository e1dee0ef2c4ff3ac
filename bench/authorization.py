"""What authorization adds to a cold start and to a warm request: the contract's security
requirements against the same contract without them, paired in one process (bench/auth_pairs.py,
run from the bundle by child.py against bench/fake_dynamodb.py).

The targets are the issue's: authorization behind the gateway verifies nothing twice (the
authorizer's claims are taken from the event), so it may add at most 5 ms to a cold start and
0.05 ms to a warm request.
"""

from __future__ import annotations

from typing import Any

from bench.common import CHILD, RESULT_FILE, Row, Source, log, run_for_json, verdict
from bench.sources import lambda_environment
from bench.warm import fake_dynamodb

TARGETS = {"authorization_cold_ms": 5.0, "authorization_warm_ms": 0.05}


def authorization(source: Source, rounds: int, pairs: int, warmup: int) -> dict[str, Any]:
    from bench.fake_dynamodb import USER_ID

    log(f"authorization: {rounds} cold rounds, {pairs} warm pairs, in one process")
    with fake_dynamodb() as endpoint:
        argv = [str(CHILD), "auth", RESULT_FILE, str(rounds), str(pairs), str(warmup)]
        result: dict[str, Any] = run_for_json(
            source, argv, lambda_environment(source, endpoint, USER_ID), timeout=900
        )
    return result


def figures(result: dict[str, Any]) -> dict[str, float]:
    return {
        "authorization_cold_ms": result["cold_ms"]["added"],
        "authorization_warm_ms": result["warm_ms"]["mixed"],
    }


def rows(result: dict[str, Any]) -> list[Row]:
    cold, warm = result["cold_ms"], result["warm_ms"]
    modules = len(cold["modules_added"])
    return [
        (
            "what authorization adds to a cold start (app build + first GET, paired in one process)",
            f"{cold['added']:+.2f} ms (medians: with {cold['with']:.2f}, without {cold['without']:.2f} ms; "
            f"{modules} more modules imported)",
            f"<= {TARGETS['authorization_cold_ms']} ms, nothing more imported",
            verdict(cold["added"], TARGETS["authorization_cold_ms"]) if modules == 0 else "MISSED",
        ),
        (
            "what authorization adds to a warm request (paired in one process)",
            f"{warm['mixed']:+.4f} ms (POST {warm['POST']:+.4f}, GET {warm['GET']:+.4f}; "
            f"per request with {warm['with_per_request']:.3f}, without {warm['without_per_request']:.3f} ms)",
            f"<= {TARGETS['authorization_warm_ms']} ms",
            verdict(warm["mixed"], TARGETS["authorization_warm_ms"]),
        ),
    ]
