"""Powertools logger and EMF metrics, the tracer when the stage traces, and the one-line-per-request
access log."""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import SERVICE_NAME
from service.auth import consumer_in
from service.routing import routed_operation_id

NAMESPACE = "UsersApi"
# Every set of dimensions the service's EMF metrics carry: Powertools' `service` on the counts, the
# consumer's (consumer_metrics), ColdStart's (record_cold_start). CloudWatch's SEARCH matches one
# set at a time, so the dashboard draws one search per set (tests/unit checks the documents).
METRIC_DIMENSIONS = (("service",), ("service", "consumer"), ("function_name", "service"))
CONSUMER_KEY = "consumer"  # the log lines' key (and the consumer metrics' dimension)

logger = Logger(service=SERVICE_NAME)
_access_log = logging.getLogger(logger.name)  # the standard logger behind it: its level decides
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


def name_consumer_in_logs(consumer: str) -> None:
    """Every line logged for the rest of the request names its consumer (never the token): a
    Powertools key held in a context variable (the logger's thread-safe keys), so each request's
    task or thread has its own, and AccessLog removes it when the request ends."""
    logger.thread_safe_append_keys(**{CONSUMER_KEY: consumer})


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
    consumer (the OAuth client's name, from the verified token; never the token itself). The other
    lines logged while the request is handled name the consumer too (`name_consumer_in_logs`), until
    the request ends here.

    Never the body, the query string or headers (they may hold emails or keys). The line carries
    the consumer's EMF metrics (`consumer_metrics`), and the request's other EMF metrics are flushed
    after it, so a request's metrics land whether it ran in Lambda or uvicorn.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Powertools' switch (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV) is in the environment,
        # which Lambda fixes for the life of an execution environment: read once, when the app is
        # built, rather than three environment reads a request.
        self.consumer_metrics = not is_metrics_disabled()

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
            try:
                self._log(scope, status, started, request_id)
            finally:
                # The request is over: no line logged after it names its consumer.
                logger.thread_safe_remove_keys((CONSUMER_KEY,))

    def _log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        consumer = consumer_in(scope)
        fields: dict[str, Any] = {
            "method": scope.get("method"),
            "route": _route(scope),
            "status": status,
            "latency_ms": latency_ms,
            "request_id": request_id,
            CONSUMER_KEY: consumer,
        }
        failed = status >= 500
        if failed:
            count("ServerErrors")
        elif status >= 400:
            count("ClientErrors")
        if consumer is not None and self.consumer_metrics:
            written = _access_log.isEnabledFor(logging.ERROR if failed else logging.INFO)
            fields.update(consumer_metrics(consumer, status, written=written))
        (logger.error if failed else logger.info)("request", extra=fields)
        if metrics.metric_set:
            metrics.flush_metrics()


def consumer_metrics(consumer: str, status: int, *, written: bool = True) -> dict[str, Any]:
    """Requests and 4xx of one consumer, as EMF fields of the request's access log line: metrics of
    their own with the consumer as a dimension (the request's other metrics keep the service's
    dimensions only, so their alarms stay as they are).

    The access line is a JSON document on standard output like any EMF document, and its `service`
    and `consumer` keys are the dimensions' values: one document per request instead of two. What
    the `_aws` member says is Powertools' own serialization (an `EphemeralMetrics` per consumer and
    kind of answer), made once; a request adds its timestamp. `ConsumerRequests` and
    `ConsumerClientErrors` are 1 per request, which is what makes the made-once document reusable.
    When the access line is not written (a log level above the request's), the metrics go out as a
    document of their own, so they are never lost with the line. Whether metrics are on at all is
    the caller's to know (AccessLog reads Powertools' switch once).
    """
    client_error = 400 <= status < 500
    if not written:
        _consumer_emf(consumer, client_error).flush_metrics()
        return {}
    template = _consumer_templates.get((consumer, client_error))
    if template is None:
        template = _frozen(_consumer_emf(consumer, client_error).serialize_metric_set())
        _consumer_templates[(consumer, client_error)] = template
    return {**template, "_aws": {**template["_aws"], "Timestamp": int(time.time() * 1000)}}


def _consumer_emf(consumer: str, client_error: bool) -> EphemeralMetrics:
    emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE_NAME)
    emf.set_default_dimensions(service=SERVICE_NAME, consumer=consumer)
    emf.add_metric(name="ConsumerRequests", unit=MetricUnit.Count, value=1)
    if client_error:
        emf.add_metric(name="ConsumerClientErrors", unit=MetricUnit.Count, value=1)
    return emf


def _frozen(document: Any) -> Any:
    """The document with its lists as tuples (JSON arrays all the same): requests share it, and
    none can change it for the next."""
    if isinstance(document, dict):
        return {key: _frozen(value) for key, value in document.items()}
    if isinstance(document, list):
        return tuple(_frozen(value) for value in document)
    return document


_consumer_templates: dict[tuple[str, bool], dict[str, Any]] = {}
