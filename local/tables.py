"""The table on a local engine (infra owns it on AWS), from the repository's declared key schema."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from service.repository import KEY_SCHEMA


def ensure_table(client: Any, table_name: str) -> None:
    """Create the table if it does not exist."""
    try:
        client.create_table(
            TableName=table_name,
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name, _ in KEY_SCHEMA],
            KeySchema=[{"AttributeName": name, "KeyType": kind} for name, kind in KEY_SCHEMA],
            BillingMode="PAY_PER_REQUEST",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
