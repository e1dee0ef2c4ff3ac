"""The baseline of the benchmarks: a bare Lambda handler making the same DynamoDB calls as ours.

boto3 client at module scope, json, a hand-written if/else on the path; no framework, no
validation, no logging. Run by bench/child.py as a top-level module (`baseline_handler`).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

TABLE = os.environ["TABLE_NAME"]
# The routes, from the contract (the runner reads them with service.contract): the if/else below is
# the bare handler's own routing, not a second list of routes.
CREATE_PATH = os.environ["BENCH_CREATE_PATH"]
USER_PREFIX = os.environ["BENCH_GET_PATH"].split("{", 1)[0]
HEALTH_PATH = os.environ["BENCH_HEALTH_PATH"]
# The same timeouts and retry mode as service.repository.make_client (settings.yaml, stage local).
client = boto3.client(
    "dynamodb",
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
    endpoint_url=os.environ.get("DYNAMODB_ENDPOINT") or None,
    config=Config(
        connect_timeout=0.5, read_timeout=2.0, retries={"mode": "standard", "total_max_attempts": 2}
    ),
)


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method, path = event["httpMethod"], event["path"]
    if method == "GET" and path.startswith(USER_PREFIX):
        user_id = path[len(USER_PREFIX) :]
        item = client.get_item(
            TableName=TABLE,
            Key={"pk": {"S": f"USER#{user_id}"}, "sk": {"S": "PROFILE"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return _response(404, {"title": "Not Found"})
        public = ("userId", "name", "email", "createdAt", "updatedAt")
        return _response(200, {key: item[key]["S"] for key in public}, {"etag": f'"v{item["version"]["N"]}"'})
    if method == "POST" and path == CREATE_PATH:
        body = json.loads(event["body"])
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        user = {
            "userId": str(uuid.uuid4()),
            "name": body["name"],
            "email": body["email"],
            "createdAt": now,
            "updatedAt": now,
        }
        item = {"pk": {"S": f"USER#{user['userId']}"}, "sk": {"S": "PROFILE"}}
        item.update({key: {"S": value} for key, value in user.items()})
        # The same item as the service writes: a version (behind the ETag) and the listing index's keys.
        item.update(
            {
                "version": {"N": "1"},
                "listPk": {"S": "USERS"},
                "listSk": {"S": f"{user['createdAt']}#{user['userId']}"},
            }
        )
        guard = {
            "pk": {"S": f"EMAIL#{user['email'].strip().lower()}"},
            "sk": {"S": "EMAIL"},
            "userId": {"S": user["userId"]},
        }
        condition = "attribute_not_exists(pk)"
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": item, "ConditionExpression": condition}},
                {"Put": {"TableName": TABLE, "Item": guard, "ConditionExpression": condition}},
            ]
        )
        return _response(201, user, {"location": USER_PREFIX + user["userId"], "etag": '"v1"'})
    if method == "GET" and path == HEALTH_PATH:
        client.get_item(
            TableName=TABLE,
            Key={"pk": {"S": "HEALTH#probe"}, "sk": {"S": "HEALTH"}},
            ProjectionExpression="pk",
        )
        return _response(200, {"status": "ok"})
    return _response(404, {"title": "Not Found"})
