"""The engine's tables answer index and table queries without reading the whole table.

In-process, on the engine's own table class (local/moto_index.py): once an index was queried,
its order is kept on every write, and neither a page of the index nor a query of one table
partition goes through `all_items()` (moto's read of every item of the table). What the answers
are is tests/engine/test_query_conformance.py's concern (against stock moto, over HTTP).
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.dynamodb.models.dynamo_type import DynamoType

from local.moto_index import IndexedTable


def s(value: str) -> dict[str, str]:
    return {"S": value}


def table_with(users: int) -> IndexedTable:
    table = IndexedTable(  # type: ignore[abstract]  # as moto instantiates Table
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attr=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "listPk", "listSk")],
        global_indexes=[
            {
                "IndexName": "by-creation",
                "KeySchema": [
                    {"AttributeName": "listPk", "KeyType": "HASH"},
                    {"AttributeName": "listSk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    for number in range(users):
        table.put_item(
            {
                "pk": s(f"USER#{number}"),
                "sk": s("PROFILE"),
                "listPk": s("USERS"),
                "listSk": s(f"{number:05d}"),
            }
        )
        table.put_item({"pk": s(f"EMAIL#{number}"), "sk": s("EMAIL")})  # no index keys
    return table


def page(table: IndexedTable, limit: int, after: dict[str, Any] | None = None) -> tuple[list[str], Any]:
    items, _, last = table.query(
        None,
        None,
        [],
        limit,
        after,  # type: ignore[arg-type]
        False,
        None,
        index_name="by-creation",
        hash_key_conditions=[("listPk", DynamoType(s("USERS")))],
        range_key_conditions=[],
    )
    return [item.attrs["listSk"].value for item in items], last


def test_pages_of_an_index_are_read_from_its_order_not_from_the_whole_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = table_with(200)
    page(table, 5)  # builds the order once
    table.put_item({"pk": s("USER#new"), "sk": s("PROFILE"), "listPk": s("USERS"), "listSk": s("99999")})
    table.delete_item(DynamoType(s("USER#199")), DynamoType(s("PROFILE")))

    def whole_table() -> None:
        raise AssertionError("the query read the whole table")

    monkeypatch.setattr(table, "all_items", whole_table)
    first, after = page(table, 3)
    second, _ = page(table, 3, after)

    assert first == ["99999", "00198", "00197"]
    assert second == ["00196", "00195", "00194"]


def test_a_query_of_the_table_reads_only_its_partition(monkeypatch: pytest.MonkeyPatch) -> None:
    table = table_with(50)

    def whole_table() -> None:
        raise AssertionError("the query read the whole table")

    monkeypatch.setattr(table, "all_items", whole_table)
    items, scanned, last = table.query(DynamoType(s("USER#7")), None, [], 10, None, True, None)  # type: ignore[arg-type]

    assert [item.attrs["listSk"].value for item in items] == ["00007"]
    assert (scanned, last) == (1, None)
