"""The effect of the index-order patch, in-process (mock_aws): a page of an index as the table grows.

    PYTHONPATH=<moto checkout, stock or patched> python measure_query.py 100,1000,10000

Fills one table (hash + range key, a global index on listPk + listSk) with BatchWriteItem, two
items per "user" (the user, in the index's one partition, and an email guard, in no index), to
each size in turn, then times 20 first pages and 20 second pages (Limit 21, newest first, the
second from the first's LastEvaluatedKey) and 20 queries of one table partition.
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

PAGE = {
    "TableName": "t",
    "IndexName": "by-creation",
    "KeyConditionExpression": "listPk = :all",
    "ExpressionAttributeValues": {":all": {"S": "USERS"}},
    "ScanIndexForward": False,
    "Limit": 21,
}


def user_items(number: int) -> list[dict[str, dict[str, str]]]:
    user = uuid.uuid4().hex
    email = f"{user}@example.com"
    return [
        {
            "pk": {"S": f"USER#{user}"},
            "sk": {"S": "PROFILE"},
            "name": {"S": "Seeded"},
            "email": {"S": email},
            "listPk": {"S": "USERS"},
            "listSk": {"S": f"2026-01-01T00:00:{number:09d}#{user}"},
        },
        {"pk": {"S": f"EMAIL#{email}"}, "sk": {"S": "EMAIL"}, "userId": {"S": user}},
    ]


def median_ms(call: Any, runs: int = 20) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


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
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "listPk", "listSk")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-creation",
                    "KeySchema": [
                        {"AttributeName": "listPk", "KeyType": "HASH"},
                        {"AttributeName": "listSk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        users = 0
        for size in sizes:
            while users < size:
                batch = min(12, size - users)
                numbers = range(users, users + batch)
                requests = [{"PutRequest": {"Item": item}} for n in numbers for item in user_items(n)]
                client.batch_write_item(RequestItems={"t": requests})
                users += batch
            client.query(**PAGE)  # the first query of the index (the patched table builds its order)
            first = median_ms(lambda: client.query(**PAGE))
            after = client.query(**PAGE)["LastEvaluatedKey"]
            second = median_ms(lambda: client.query(**PAGE, ExclusiveStartKey=after))  # noqa: B023
            one = client.query(**PAGE)["Items"][0]["pk"]
            partition = median_ms(
                lambda: client.query(
                    TableName="t",
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": one},  # noqa: B023
                )
            )
            print(
                f"{size:>6} users ({2 * size} items): first page {first:8.2f} ms, "
                f"second page {second:8.2f} ms, one table partition {partition:8.2f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main([int(size) for size in sys.argv[1].split(",")])
