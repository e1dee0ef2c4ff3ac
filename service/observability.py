"""Powertools logger and EMF metrics, the tracer when the stage traces, and the one-line-per-request
access log."""

from __future__ import annotations

import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import consumer_in
from service.routing import routed_operation_id

SERVICE_NAME = "users-api"
NAMESPACE = "UsersApi"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME, namespace=NAMESPACE)
if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer


def make_tracer() -> Tracer:
    """The X-Ray tracer (service.tracing). Built only when used: even a disabled Tracer imports the
    X-Ray SDK. Patches only what the function calls (DynamoDB, SSM: botocore); the default patches
    every library X-Ray knows (requests, httpx, sqlite3, ...), importing their patchers for nothing."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE_NAME, patch_modules=("botocore",))


def record_cold_start(context: Any) -> None:
    """Powertools' ColdStart metric (its name and dimensions, as `log_metrics(capture_cold_start_metric=
    True)` writes it), for an execution environment's first event: after an on-demand init or a
    SnapStart restore (a restore is a cold start: its latency is Restore Duration + Duration), never
    under provisioned concurrency (no caller waited for that init). The init type goes with it as
    metadata, so restores can be told apart. Powertools' logger flags the same event `cold_start`.
    """
    init_type = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    if init_type == "provisioned-concurrency":
        return
    with single_metric(name="ColdStart", unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="function_name", value=str(context.function_name))
        metric.add_dimension(name="service", value=SERVICE_NAME)
        metric.add_metadata(key="init_type", value=init_type)


def count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


def _request_id(scope: Scope) -> str:
    event = scope.get("aws.event") or {}
    context = event.get("requestContext") or {}
    if context.get("requestId"):
        return str(context["requestId"])
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            return str(value.decode("latin-1"))[:128]
    return str(uuid.uuid4())


def _route(scope: Scope) -> str:
    return routed_operation_id(scope) or "unmatched"


class AccessLog:
    """One JSON line per request: method, route (operationId), status, latency, request id, and the
    consumer (the OAuth client's name, from the verified token; never the token itself).

    Never the body, the query string or headers (they may hold emails or keys). Flushes the
    request's EMF metrics, so a request's metrics land whether it ran in Lambda or uvicorn.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # connexion's router copies the scope but shares this dict: it records the operationId here.
        scope.setdefault("extensions", {})
        status = 500
        request_id = _request_id(scope)

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            latency_ms = round((time.perf_counter() - started) * 1000, 3)
            consumer = consumer_in(scope)
            fields: dict[str, Any] = {
                "method": scope.get("method"),
                "route": _route(scope),
                "status": status,
                "latency_ms": latency_ms,
                "request_id": request_id,
                "consumer": consumer,
            }
            if status >= 500:
                count("ServerErrors")
                logger.error("request", extra=fields)
            else:
                if status >= 400:
                    count("ClientErrors")
                logger.info("request", extra=fields)
            if metrics.metric_set:
                metrics.flush_metrics()
            if consumer is not None:
                count_for_consumer(consumer, status)


def count_for_consumer(consumer: str, status: int) -> None:
    """Requests and 4xx of one consumer: metrics of their own with the consumer as a dimension (the
    request's other metrics keep the service's dimensions only, so their alarms stay as they are).

    One EMF document per request, from one `EphemeralMetrics` per consumer made on its first request
    (consumers are the declared clients): `single_metric` would build a metrics provider, and with it
    its lists of every unit and resolution, twice a request (≈55 µs against ≈21 µs measured)."""
    if is_metrics_disabled():
        return
    consumer_metrics = _consumer_metrics.get(consumer)
    if consumer_metrics is None:
        consumer_metrics = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE_NAME)
        consumer_metrics.set_default_dimensions(service=SERVICE_NAME, consumer=consumer)
        _consumer_metrics[consumer] = consumer_metrics
    consumer_metrics.add_metric(name="ConsumerRequests", unit=MetricUnit.Count, value=1)
    if 400 <= status < 500:
        consumer_metrics.add_metric(name="ConsumerClientErrors", unit=MetricUnit.Count, value=1)
    consumer_metrics.flush_metrics()


_consumer_metrics: dict[str, EphemeralMetrics] = {}
