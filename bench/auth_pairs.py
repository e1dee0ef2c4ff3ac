"""What authorization adds, measured in one process (run by child.py's `auth` mode, from the bundle).

Three apps are built the way the Lambda entry point builds its own (Mangum, Powertools' logger, the
tracer when the stage traces, one DynamoDB client), from three versions of the contract:

- "with": the shipped contract, each operation asking for the API key and its OAuth scope;
- "key_only": the same document with each requirement reduced to its API key, the contract as it
  was before authorization (the key meters; it identified nobody);
- "none": the same document with every operation's `security` empty.

Nothing else differs, so "with" minus "key_only" is what authorization adds (the bearer token's
claims and scope checked by connexion, the consumer named in the access line and its metrics), and
"with" minus "none" is what the whole of the security requirements costs.

- cold: in each round, each contract (order rotating) gets a fresh Contract and a fresh app, which
  then serves its first GET; the time from before the build to the end of that request. Round 0
  builds "with" last and records which modules it imports on top of the others (none: then the
  import part of a cold start is equal and the build + first request is all of the difference).
- warm: POST+GET pairs sent to each app in turn, order rotating; the first `warmup` pairs are
  discarded. Each request is timed alone; a figure is the median of the paired differences.

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
VARIANTS = ("with", "key_only", "none")
BASES = ("key_only", "none")  # what "with" is compared with


def _contracts() -> dict[str, str]:
    from service.contract import get_contract

    shipped = get_contract()
    schemes = shipped.document["components"]["securitySchemes"]
    documents = {}
    for name in VARIANTS:
        document = json.loads(json.dumps(shipped.document))
        for item in document["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and operation.get("security") and name != "with":
                    keys = [
                        {
                            scheme: scopes
                            for scheme, scopes in requirement.items()
                            if schemes[scheme]["type"] == "apiKey"
                        }
                        for requirement in operation["security"]
                    ]
                    operation["security"] = keys if name == "key_only" else []
        # As text: each build parses its own copy (outside the timing), as each cold start would.
        documents[name] = json.dumps(document)
    return documents


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


def _paired(values: dict[str, list[float]], base: str) -> float:
    return statistics.median(a - b for a, b in zip(values["with"], values[base], strict=True))


def _rotation(number: int) -> tuple[str, ...]:
    shift = number % len(VARIANTS)
    return VARIANTS[shift:] + VARIANTS[:shift]


def measure(
    rounds: int, pairs: int, warmup: int, events: Any, new_context: Callable[[], Any]
) -> dict[str, Any]:
    """`events` gives (method, event) for the first GET and for each POST+GET pair."""
    documents = _contracts()
    build = _builder()
    cold: dict[str, list[float]] = {name: [] for name in VARIANTS}
    added_modules: list[str] = []
    for number in range(rounds + 1):
        for name in _rotation(number) if number else VARIANTS[::-1]:
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
        for name in _rotation(number):
            for method, event, expected in (("POST", events.post(), 201), ("GET", events.get(), 200)):
                context = new_context()
                started = time.perf_counter_ns()
                response = handlers[name](event, context)
                elapsed = (time.perf_counter_ns() - started) / 1e6
                _check(response, expected)
                if number >= warmup:
                    warm[method][name].append(elapsed)
    result: dict[str, Any] = {"rounds": rounds, "pairs": pairs, "modules_added": added_modules}
    result["cold_ms"] = {name: round(statistics.median(cold[name]), 3) for name in VARIANTS}
    result["warm_ms"] = {
        name: round(statistics.fmean(statistics.median(warm[m][name]) for m in warm), 4) for name in VARIANTS
    }
    for base in BASES:
        by_method = {method: round(_paired(warm[method], base), 4) for method in warm}
        result[f"over_{base}"] = {
            "cold_ms": round(_paired(cold, base), 3),
            "warm_ms": {**by_method, "mixed": round(statistics.fmean(by_method.values()), 4)},
        }
    return result


def _check(response: dict[str, Any], expected: int) -> None:
    if response["statusCode"] != expected:
        raise RuntimeError(f"answered {response['statusCode']} (expected {expected}): {response.get('body')}")
