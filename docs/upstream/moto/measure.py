"""The effect of the patch, in-process (mock_aws): TransactWriteItems latency as the table grows.

    PYTHONPATH=<moto checkout, stock or patched> python measure.py 100,1000,5000

Fills one table (hash + range key) with BatchWriteItem, two items per "user", to each size in
turn, then times 20 transactions of two conditional Puts (a user and its email guard) and counts
the `Item` instances moto tracks per transaction (the copies a rollback snapshot makes).
Not part of the project's code: it documents the measurement in this folder's README.
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from typing import Any

import boto3
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

CONDITION = "attribute_not_exists(pk)"


def user_items(user: str, name: str) -> list[dict[str, dict[str, str]]]:
    email = f"{user}@example.com"
    return [
        {"pk": {"S": f"USER#{user}"}, "sk": {"S": "PROFILE"}, "name": {"S": name}, "email": {"S": email}},
        {"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"}, "userId": {"S": user}},
    ]


def main(sizes: list[int]) -> None:
    with mock_aws():
        client: Any = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",  # noqa: S106
        )
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        users = 0
        for size in sizes:
            while users < size:
                batch = min(12, size - users)
                requests = [
                    {"PutRequest": {"Item": item}}
                    for _ in range(batch)
                    for item in user_items(uuid.uuid4().hex, "Seeded")
                ]
                client.batch_write_item(RequestItems={"t": requests})
                users += batch
            timings = []
            tracked = len(Item.instances_tracked)  # type: ignore[attr-defined]
            for _ in range(20):
                items = user_items(uuid.uuid4().hex, "Ada Lovelace")
                started = time.perf_counter()
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": "t", "Item": item, "ConditionExpression": CONDITION}}
                        for item in items
                    ]
                )
                timings.append((time.perf_counter() - started) * 1000)
            copies = (len(Item.instances_tracked) - tracked) / 20  # type: ignore[attr-defined]
            print(
                f"{size:>6} users: median {statistics.median(timings):8.2f} ms per transaction, "
                f"{copies:8.0f} Item instances created per transaction",
                flush=True,
            )


if __name__ == "__main__":
    main([int(size) for size in sys.argv[1].split(",")])
