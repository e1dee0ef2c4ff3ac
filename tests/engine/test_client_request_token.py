"""TransactWriteItems' ClientRequestToken, as DynamoDB documents it, honoured by the engine.

DynamoDB (API reference, TransactWriteItems, ClientRequestToken):
- identical calls with one token have the effect of one call: a repeat of a successful
  transaction "returns successfully without making any changes";
- the token is valid for 10 minutes after the first request that uses it completes; after
  that, a request with it is a new request;
- the same token with other parameters within those 10 minutes is refused with
  IdempotentParameterMismatchException.
Where the documentation is silent (a token first used by a transaction that failed), the engine
keeps nothing: the retry runs again. botocore fills in a fresh token for every call that does
not pass one, and its own retries resend the same one.
Stock moto ignores the token: the last test documents that gap, and fails once moto closes it.
"""

from __future__ import annotations

import io
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.dynamodb_admin import admin_client
from local.engine import LocalEngine
from local.engine_wsgi import IDEMPOTENCY_WINDOW_SECONDS, TRANSACT_WRITE_TARGET, ClientRequestTokens

pytestmark = pytest.mark.integration


def counter_table(client: Any) -> str:
    name = f"tokens-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=name, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    return name


def increment(table: str, by: int = 1, condition: str | None = None) -> list[dict[str, Any]]:
    operation: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": "counter"}},
        "UpdateExpression": "SET n = n + :by",
        "ExpressionAttributeValues": {":by": {"N": str(by)}},
    }
    if condition:
        operation["ConditionExpression"] = condition
    return [{"Update": operation}]


def counter(client: Any, table: str) -> int:
    item = client.get_item(TableName=table, Key={"pk": {"S": "counter"}}, ConsistentRead=True)["Item"]
    return int(item["n"]["N"])


@pytest.fixture
def client(undo_engine: LocalEngine) -> Any:
    return admin_client(undo_engine.endpoint)


def test_a_repeat_with_the_same_token_succeeds_without_writing_again(client: Any) -> None:
    table = counter_table(client)
    token = str(uuid.uuid4())
    create = [
        {
            "Put": {
                "TableName": table,
                "Item": {"pk": {"S": "user"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        *increment(table),
    ]

    client.transact_write_items(TransactItems=create, ClientRequestToken=token)
    client.transact_write_items(TransactItems=create, ClientRequestToken=token)

    assert counter(client, table) == 1


def test_the_same_token_with_other_parameters_is_refused(client: Any) -> None:
    table = counter_table(client)
    token = str(uuid.uuid4())
    client.transact_write_items(TransactItems=increment(table), ClientRequestToken=token)

    with pytest.raises(ClientError) as refused:
        client.transact_write_items(TransactItems=increment(table, by=5), ClientRequestToken=token)

    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert counter(client, table) == 1


def test_another_token_is_another_transaction(client: Any) -> None:
    table = counter_table(client)

    client.transact_write_items(TransactItems=increment(table), ClientRequestToken=str(uuid.uuid4()))
    client.transact_write_items(TransactItems=increment(table), ClientRequestToken=str(uuid.uuid4()))

    assert counter(client, table) == 2


def test_a_failed_transaction_leaves_no_token_behind(client: Any) -> None:
    table = counter_table(client)
    token = str(uuid.uuid4())
    guarded = increment(table, condition="attribute_exists(ready)")
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=guarded, ClientRequestToken=token)
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    client.update_item(
        TableName=table,
        Key={"pk": {"S": "counter"}},
        UpdateExpression="SET ready = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )

    client.transact_write_items(TransactItems=guarded, ClientRequestToken=token)

    assert counter(client, table) == 1


def test_stock_moto_ignores_the_token(stock_engine: LocalEngine) -> None:
    client: Any = admin_client(stock_engine.endpoint)
    table = counter_table(client)
    token = str(uuid.uuid4())

    client.transact_write_items(TransactItems=increment(table), ClientRequestToken=token)
    client.transact_write_items(TransactItems=increment(table), ClientRequestToken=token)

    assert counter(client, table) == 2  # DynamoDB: 1


# --- The 10-minute window, on the middleware itself with a clock of the test's own.


class CountingApp:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.calls += 1
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
        return [b"{}"]


def call(app: ClientRequestTokens, request: dict[str, Any]) -> str:
    body = json.dumps(request).encode()
    environ = {
        "HTTP_X_AMZ_TARGET": TRANSACT_WRITE_TARGET,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request",
    }
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0]


def test_a_token_is_remembered_for_ten_minutes_after_its_transaction() -> None:
    now = [0.0]
    inner = CountingApp()
    app = ClientRequestTokens(inner, clock=lambda: now[0])
    request = {
        "TransactItems": [{"Put": {"TableName": "t", "Item": {"pk": {"S": "1"}}}}],
        "ClientRequestToken": "x",
    }
    other = {**request, "TransactItems": []}

    assert call(app, request).startswith("200")
    now[0] = IDEMPOTENCY_WINDOW_SECONDS - 1
    assert call(app, request).startswith("200")
    assert call(app, other).startswith("400")
    assert inner.calls == 1

    now[0] = 1 + 2 * IDEMPOTENCY_WINDOW_SECONDS
    assert call(app, other).startswith("200")
    assert inner.calls == 2
    assert len(app) == 1  # the expired token was dropped; only the new one is kept


# --- Flat memory: what moto keeps for its dashboard.


def dashboard_items(engine: LocalEngine) -> int:
    with urllib.request.urlopen(f"{engine.endpoint}/moto-api/data.json", timeout=30) as response:
        data = json.load(response)
    return len(data.get("dynamodb", {}).get("Item", []))


def test_the_engine_does_not_keep_every_item_for_moto_dashboard(engines: dict[str, LocalEngine]) -> None:
    for engine in engines.values():
        client: Any = admin_client(engine.endpoint)
        table = counter_table(client)
        for number in range(50):
            client.put_item(TableName=table, Item={"pk": {"S": f"item-{number}"}})

    assert dashboard_items(engines["stock"]) >= 50
    assert dashboard_items(engines["engine"]) == 0
