"""What authorization adds, measured in one process (run by child.py's `auth` mode, from the bundle).

Two apps are built the way the Lambda entry point builds its own (Mangum, Powertools' logger, the
tracer when the stage traces, one DynamoDB client), from two contracts: the shipped one, and the
same document with every operation's `security` empty. Nothing else differs, so the difference of
their timings is what the contract's security requirements cost: connexion's security middleware,
the token info and the consumer's metrics.

- cold: in each round, each contract (order alternating) gets a fresh Contract and a fresh app,
  which then serves its first GET; the time from before the build to the end of that request.
  Round 0 builds "without" first and records which modules "with" imports on top (none, when
  authorization imports nothing of its own: then the import part of a cold start is equal and the
  build + first request is all of the difference).
- warm: POST+GET pairs sent to each app in turn, order alternating; the first `warmup` pairs are
  discarded. Each request is timed alone; the figure is the median of the paired differences.

Between two processes the same code differs by more than this (docs/performance.md, "How much one
run says"); within one process, request by request, that noise cancels.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
VARIANTS = ("with", "without")


def _contracts() -> dict[str, Any]:
    from service.contract import get_contract

    shipped = get_contract()
    document = json.loads(json.dumps(shipped.document))
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["security"] = []
    # As text: each build parses its own copy (outside the timing), as each cold start would.
    return {"with": json.dumps(shipped.document), "without": json.dumps(document)}


def _builder() -> Callable[[Any], Handler]:
    from service.app import create_asgi_app
    from service.contract import Contract
    from service.lambda_adapter import adapter_for
    from service.observability import logger, make_tracer
    from service.repository import DynamoUserRepository, make_client
    from service.settings import get_settings

    settings = get_settings()
    if settings.service.tracing:
        make_tracer()
    repository = DynamoUserRepository(make_client(settings.service), settings.service.table_name)

    def build(document: Any) -> Handler:
        contract = Contract(document)
        app = create_asgi_app(settings, repository=repository, contract=contract, inline_handlers=True)
        handler: Handler = logger.inject_lambda_context(adapter_for(app), clear_state=True)
        return handler

    return build


def _paired(values: dict[str, list[float]]) -> float:
    return statistics.median(a - b for a, b in zip(values["with"], values["without"], strict=True))


def measure(
    rounds: int, pairs: int, warmup: int, events: Any, new_context: Callable[[], Any]
) -> dict[str, Any]:
    """`events` gives (method, event) for the first GET and for each POST+GET pair."""
    documents = _contracts()
    build = _builder()
    cold: dict[str, list[float]] = {name: [] for name in VARIANTS}
    added_modules: list[str] = []
    for number in range(rounds + 1):
        order = VARIANTS[::-1] if number % 2 == 0 else VARIANTS
        for name in order:
            document, before = json.loads(documents[name]), set(sys.modules)
            started = time.perf_counter_ns()
            response = build(document)(events.get(), new_context())
            elapsed = (time.perf_counter_ns() - started) / 1e6
            _check(response, 200)
            if number == 0 and name == "with":
                added_modules = sorted(set(sys.modules) - before)
            elif number:
                cold[name].append(elapsed)
        gc.collect()
    handlers = {name: build(json.loads(documents[name])) for name in VARIANTS}
    warm: dict[str, dict[str, list[float]]] = {m: {name: [] for name in VARIANTS} for m in ("POST", "GET")}
    for number in range(warmup + pairs):
        for name in VARIANTS if number % 2 else VARIANTS[::-1]:
            for method, event, expected in (("POST", events.post(), 201), ("GET", events.get(), 200)):
                context = new_context()
                started = time.perf_counter_ns()
                response = handlers[name](event, context)
                elapsed = (time.perf_counter_ns() - started) / 1e6
                _check(response, expected)
                if number >= warmup:
                    warm[method][name].append(elapsed)
    medians = {name: statistics.median(cold[name]) for name in VARIANTS}
    by_method = {method: round(_paired(warm[method]), 4) for method in warm}
    return {
        "cold_ms": {
            "added": round(_paired(cold), 3),
            **{name: round(value, 3) for name, value in medians.items()},
            "rounds": rounds,
            "modules_added": added_modules,
        },
        "warm_ms": {
            **by_method,
            "mixed": round(statistics.fmean(by_method.values()), 4),
            **{
                f"{name}_per_request": round(
                    statistics.fmean(statistics.median(warm[m][name]) for m in warm), 4
                )
                for name in VARIANTS
            },
            "pairs": pairs,
        },
    }


def _check(response: dict[str, Any], expected: int) -> None:
    if response["statusCode"] != expected:
        raise RuntimeError(f"answered {response['statusCode']} (expected {expected}): {response.get('body')}")
