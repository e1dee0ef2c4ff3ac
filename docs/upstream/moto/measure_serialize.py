"""The effect of the DynamoDB serializer patch, in-process (mock_aws): answers that carry items.

    PYTHONPATH=<moto checkout, stock or patched> python measure_serialize.py [runs]

One table of 200 items of 9 string attributes (the service's user items are 6 to 9), then the
median time of: a Scan page of 20 items, a Query of one item, a GetItem, a BatchGetItem of 20
keys, and a PutItem (whose answer carries no item: the control). Not part of the project's code:
it documents the measurement in this folder's README.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import boto3
from moto import mock_aws
from moto.core.serialize import get_serializer_class

ATTRIBUTES = 8  # besides the key


def item(number: int) -> dict[str, dict[str, str]]:
    return {
        "pk": {"S": f"USER#{number:06d}"},
        **{f"a{i}": {"S": f"value {i} of {number}"} for i in range(ATTRIBUTES)},
    }


def median_ms(call: Any, runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main(runs: int) -> None:
    with mock_aws():
        client: Any = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="a",
            aws_secret_access_key="b",  # noqa: S106
        )
        client.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for start in range(0, 200, 25):
            requests = [{"PutRequest": {"Item": item(n)}} for n in range(start, start + 25)]
            client.batch_write_item(RequestItems={"t": requests})
        key = {"pk": {"S": "USER#000007"}}
        keys = [{"pk": {"S": f"USER#{n:06d}"}} for n in range(20)]
        calls = {
            "Scan, a page of 20 items": lambda: client.scan(TableName="t", Limit=20),
            "Query, one item": lambda: client.query(
                TableName="t", KeyConditionExpression="pk = :k", ExpressionAttributeValues={":k": key["pk"]}
            ),
            "GetItem": lambda: client.get_item(TableName="t", Key=key),
            "BatchGetItem, 20 keys": lambda: client.batch_get_item(RequestItems={"t": {"Keys": keys}}),
            "PutItem (no item in the answer)": lambda: client.put_item(TableName="t", Item=item(7)),
        }
        serializer = get_serializer_class("dynamodb", "json").__name__
        print(f"serializer: {serializer}; medians of {runs} calls")
        for name, call in calls.items():
            call()  # warm up
            print(f"{name:34s} {median_ms(call, runs):7.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
