"""Readiness and reset of any DynamoDB-compatible engine, through the DynamoDB API only.

What the tests, the bench and the local stage use to wait for an engine and to empty it: the
embedded engine (moto server), an engine a developer runs, or real DynamoDB behave the same,
so nothing here calls an engine-specific API (no /moto-api/...). Tables are created by
local/tables.py `ensure_table` only; these helpers never assume a key schema.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from local.readiness import wait_until

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Dummy credentials for a local engine when the environment has none (moto accepts any).
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
DEFAULT_REGION = "us-east-1"
BATCH_WRITE_LIMIT = 25  # BatchWriteItem's maximum number of requests per call


def admin_client(endpoint: str, region: str = DEFAULT_REGION, timeout: float = 5.0) -> DynamoDBClient:
    """A low-level client for `endpoint`; the environment's credentials, else local dummies."""
    from botocore.config import Config
    from botocore.session import get_session

    session = get_session()
    # The environment's credentials (or profile) when it names any; never a metadata-service lookup.
    named = any(name in os.environ for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"))
    credentials: dict[str, str] = {} if named else LOCAL_CREDENTIALS
    client = session.create_client(
        "dynamodb",
        region_name=region,
        endpoint_url=endpoint or None,
        config=Config(
            connect_timeout=timeout, read_timeout=timeout, retries={"mode": "standard", "max_attempts": 1}
        ),
        **credentials,  # type: ignore[arg-type]
    )
    return cast("DynamoDBClient", client)


def answers(client: DynamoDBClient) -> bool:
    """True once the engine answers a DynamoDB call (ListTables)."""
    try:
        client.list_tables(Limit=1)
    except (BotoCoreError, ClientError, OSError):
        return False
    return True


def wait_until_ready(client: DynamoDBClient, timeout: float = 30.0, interval: float = 0.05) -> None:
    wait_until(
        lambda: answers(client),
        what=f"the DynamoDB engine on {client.meta.endpoint_url}",
        timeout=timeout,
        interval=interval,
    )


def wait_until_active(client: DynamoDBClient, table: str, timeout: float = 300.0) -> None:
    """Real DynamoDB creates tables asynchronously; a local engine answers ACTIVE at once."""
    wait_until(
        lambda: client.describe_table(TableName=table)["Table"].get("TableStatus") == "ACTIVE",
        what=f"table {table} (ACTIVE)",
        timeout=timeout,
        interval=1.0,
    )


def key_names(client: DynamoDBClient, table: str) -> list[str]:
    schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
    return [element["AttributeName"] for element in schema]


def empty_table(client: DynamoDBClient, table: str) -> int:
    """Delete every item of `table` (Scan + BatchWriteItem), whatever its keys and indexes.

    The table itself stays, with its definition (indexes, TTL, streams). Returns the number of
    items deleted.
    """
    names = key_names(client, table)
    placeholders = {f"#k{i}": name for i, name in enumerate(names)}
    deleted = 0
    pending: list[dict[str, Any]] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(
        TableName=table,
        ProjectionExpression=", ".join(placeholders),
        ExpressionAttributeNames=placeholders,
        ConsistentRead=True,
    ):
        for item in page.get("Items", []):
            pending.append({"DeleteRequest": {"Key": {name: item[name] for name in names}}})
            if len(pending) == BATCH_WRITE_LIMIT:
                deleted += _batch_write(client, table, pending)
                pending = []
    if pending:
        deleted += _batch_write(client, table, pending)
    return deleted


def _batch_write(client: DynamoDBClient, table: str, requests: list[dict[str, Any]]) -> int:
    count = len(requests)
    delay = 0.05
    while requests:
        response = client.batch_write_item(RequestItems={table: requests})  # type: ignore[dict-item]
        requests = cast("list[dict[str, Any]]", response.get("UnprocessedItems", {}).get(table, []))
        if requests:
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    return count


def drop_tables(client: DynamoDBClient) -> list[str]:
    """Delete every table the engine lists (a local engine's full reset)."""
    names: list[str] = []
    for page in client.get_paginator("list_tables").paginate():
        names.extend(page.get("TableNames", []))
    for name in names:
        client.delete_table(TableName=name)
    return names
