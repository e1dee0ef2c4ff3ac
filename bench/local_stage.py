"""Local stage: uvicorn + the app against the local engine, and the same journey as direct boto3 calls.

`python -m local.stage` serves the app; the figures are `GET /health` requests per second, and
the create-then-read journey through the app against the same two DynamoDB calls made directly
with boto3, each round from an empty table (the engine's transactions slow as the table grows),
the order alternating.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

from bench.common import API_KEY, ROOT, TABLE, Row, log, summary, verdict
from local.engine import HOST, LocalEngine, free_port
from local.readiness import http_ok, wait_until
from local.stage import LOCAL_CREDENTIALS
from local.tables import ensure_table

TARGETS = {"local_journey_ratio": 0.8}


def _request(
    connection: http.client.HTTPConnection, method: str, path: str, token: str, body: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {"x-api-key": API_KEY, "Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _app_journeys(port: int, count: int, create_path: str) -> float:
    """Create-then-read journeys through the stage, as a consumer with every scope (one token)."""
    from consumers.token import full_access_client, local_credentials, request_token

    credentials = local_credentials(full_access_client(), f"http://{HOST}:{port}")
    token = str(request_token(credentials)["access_token"])
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    started = time.perf_counter()
    for _ in range(count):
        body = json.dumps({"name": "Ada Lovelace", "email": f"j-{uuid.uuid4().hex[:16]}@example.com"})
        status, headers, _ = _request(connection, "POST", create_path, token, body)
        if status != 201:
            raise RuntimeError(f"createUser answered {status}")
        status, _, _ = _request(connection, "GET", headers["location"], token)
        if status != 200:
            raise RuntimeError(f"GET {headers['location']} answered {status}")
    elapsed = time.perf_counter() - started
    connection.close()
    return count / elapsed


def _direct_journeys(client: Any, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        user_id = str(uuid.uuid4())
        email = f"j-{uuid.uuid4().hex[:16]}@example.com"
        now = "2025-11-25T10:00:00.000Z"
        item = {
            "pk": {"S": f"USER#{user_id}"},
            "sk": {"S": "PROFILE"},
            "userId": {"S": user_id},
            "name": {"S": "Ada Lovelace"},
            "email": {"S": email},
            "createdAt": {"S": now},
            "updatedAt": {"S": now},
        }
        guard = {"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"}, "userId": {"S": user_id}}
        condition = "attribute_not_exists(pk)"
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": condition}},
                {"Put": {"TableName": TABLE, "Item": guard, "ConditionExpression": condition}},
            ]
        )
        got = client.get_item(TableName=TABLE, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True)
        if "Item" not in got:
            raise RuntimeError("direct read-after-write found nothing")
    return count / (time.perf_counter() - started)


def local_stage(journeys: int, rounds: int, health_requests: int) -> dict[str, Any]:
    import boto3

    from service.contract import get_contract

    contract = get_contract()
    health_path = contract.operation("getHealth").path
    create_path = contract.operation("createUser").path
    app_rates: list[float] = []
    direct_rates: list[float] = []
    with LocalEngine() as engine:
        os.environ.update(LOCAL_CREDENTIALS)
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=engine.endpoint)
        ensure_table(client, TABLE)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("USERS_API_", "POWERTOOLS_"))}
        env.update({"STAGE": "local", "DYNAMODB_ENDPOINT": engine.endpoint, "PORT": str(port)})
        stage = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "local.stage", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                http_ok(f"http://{HOST}:{port}{health_path}", timeout=5),
                what="the local stage",
                timeout=60,
                process=stage,
            )
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            started = time.perf_counter()
            for _ in range(health_requests):
                if _request(connection, "GET", health_path, "")[0] != 200:
                    raise RuntimeError("getHealth failed")
            health_rate = health_requests / (time.perf_counter() - started)
            connection.close()
            for number in range(rounds):
                order = ("app", "direct") if number % 2 == 0 else ("direct", "app")
                for kind in order:
                    # Each measurement starts from an empty table: moto's transactions slow as it grows.
                    engine.reset()
                    ensure_table(client, TABLE)
                    if kind == "app":
                        app_rates.append(_app_journeys(port, journeys, create_path))
                    else:
                        direct_rates.append(_direct_journeys(client, journeys))
                log(f"local stage round {number + 1}/{rounds}")
        finally:
            stage.terminate()
            stage.wait(timeout=30)
    return {
        "health_rps": round(health_rate, 1),
        "journey_app_per_s": summary(app_rates),
        "journey_direct_per_s": summary(direct_rates),
        "journey_ratio": round(statistics.median(app_rates) / statistics.median(direct_rates), 3),
        "journeys_per_round": journeys,
    }


def figures(stage: dict[str, Any]) -> dict[str, float]:
    return {"local_journey_ratio": stage["journey_ratio"]}


def rows(stage: dict[str, Any]) -> list[Row]:
    target = TARGETS["local_journey_ratio"]
    return [
        ("local GET /health", f"{stage['health_rps']:.0f} req/s", "reported", "-"),
        (
            "local create+read journey",
            f"{stage['journey_app_per_s']['median']:.1f}/s via app vs "
            f"{stage['journey_direct_per_s']['median']:.1f}/s direct = {stage['journey_ratio']:.2f}x",
            f">= {target}x",
            verdict(stage["journey_ratio"], target, higher_is_better=True),
        ),
    ]
