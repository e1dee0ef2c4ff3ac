"""What authorization adds to a cold start and to a warm request: the shipped contract against the
same contract with the API key alone (as before authorization), paired in one process
(bench/auth_pairs.py, run from the bundle by child.py against bench/fake_dynamodb.py); and, reported,
the whole of the security requirements against none.

The targets: authorization behind the gateway verifies nothing twice (the authorizer's claims are
taken from the event), so it may add at most 5 ms to a cold start and 0.05 ms to a warm request.
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
    over_key, over_none = result["over_key_only"], result["over_none"]
    return {
        "authorization_cold_ms": over_key["cold_ms"],
        "authorization_warm_ms": over_key["warm_ms"]["mixed"],
        "security_cold_ms": over_none["cold_ms"],
        "security_warm_ms": over_none["warm_ms"]["mixed"],
    }


def rows(result: dict[str, Any]) -> list[Row]:
    over_key, over_none = result["over_key_only"], result["over_none"]
    cold, warm, added = result["cold_ms"], result["warm_ms"], over_key["warm_ms"]
    modules = len(result["modules_added"])
    return [
        (
            "what authorization adds to a cold start (over the API key alone; build + first GET)",
            f"{over_key['cold_ms']:+.2f} ms (medians: with {cold['with']:.2f}, "
            f"key only {cold['key_only']:.2f}, none {cold['none']:.2f} ms; {modules} more modules imported)",
            f"<= {TARGETS['authorization_cold_ms']} ms, nothing more imported",
            verdict(over_key["cold_ms"], TARGETS["authorization_cold_ms"]) if modules == 0 else "MISSED",
        ),
        (
            "what authorization adds to a warm request (over the API key alone)",
            f"{added['mixed']:+.4f} ms (POST {added['POST']:+.4f}, GET {added['GET']:+.4f}; per request: "
            f"with {warm['with']:.3f}, key only {warm['key_only']:.3f}, none {warm['none']:.3f} ms)",
            f"<= {TARGETS['authorization_warm_ms']} ms",
            verdict(added["mixed"], TARGETS["authorization_warm_ms"]),
        ),
        (
            "  the API key and the token together, over no security",
            f"cold {over_none['cold_ms']:+.2f} ms; warm {over_none['warm_ms']['mixed']:+.4f} ms "
            f"(POST {over_none['warm_ms']['POST']:+.4f}, GET {over_none['warm_ms']['GET']:+.4f})",
            "reported",
            "-",
        ),
    ]
