"""The table on a local engine (infra owns it on AWS), from the repository's declarations:
its keys, its secondary indexes and its TTL attribute."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from service.repository import INDEXES, KEY_SCHEMA, TTL_ATTRIBUTE


def table_definition(table_name: str) -> dict[str, Any]:
    """CreateTable's arguments for the table the repository expects."""
    attributes = {name for name, _ in KEY_SCHEMA}
    attributes.update(name for keys in INDEXES.values() for name, _ in keys)
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)
        ],
        "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in KEY_SCHEMA],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if INDEXES:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, keys in INDEXES.items()
        ]
    return definition


def ensure_table(client: Any, table_name: str) -> None:
    """Create the table (and turn its TTL on) if it does not exist."""
    try:
        client.create_table(**table_definition(table_name))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        return
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
