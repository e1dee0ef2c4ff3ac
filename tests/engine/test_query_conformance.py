"""One query corpus against stock moto and against the engine: the answers must be identical.

The engine answers a Query from an order it keeps per secondary index, and reads only the asked
partition of the table (local/moto_index.py), where stock moto sorts the whole table for every
page. Both engines get the same table (a global index with a range key, a global index without
one, a KEYS_ONLY global index and a local index) and the same items, among them items without
an index's keys, ties on an index's sort key, numbers that sort differently as text and
attributes of every type (the engine also writes its answers' attribute values itself,
local/moto_responses.py); then the same writes. Every query is paged to its end (Limit,
ExclusiveStartKey from each page's LastEvaluatedKey), forward and backward, and every page must
be equal: items, Count, ScannedCount, LastEvaluatedKey, or the error. Each case also checks what
DynamoDB does, so the test fails if both engines agree on a wrong answer. Walks whose table changes
between two pages (the start key's item deleted, or its index key changed) and hand-made start keys
without the index's attributes are compared the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.dynamodb_admin import admin_client
from local.engine import LocalEngine

pytestmark = pytest.mark.integration

BY_GROUP = "by-group"  # gpk (S) + gsk (S)
BY_SCORE = "by-score"  # gpk (S) + score (N)
BY_GROUP_ONLY = "by-group-only"  # gpk, no range key
KEYS_ONLY = "keys-only"  # gpk + gsk, KEYS_ONLY projection
LOCAL = "local-by-gsk"  # pk + gsk


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


TYPED: dict[str, Any] = {
    "blob": {"B": b"\x00\xffbytes"},
    "blobs": {"BS": [b"a", b"\x01"]},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "names": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2.5"]},
    "empty": {"S": ""},
    "nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}, {"M": {}}, {"L": []}]}, "b": {"B": b"z"}}},
}


def seed_items() -> list[dict[str, Any]]:
    """Two table partitions; index partitions "g1" and "g2"; some items outside each index."""
    items = []
    for number in range(23):
        item: dict[str, Any] = {
            "pk": s(f"p{number % 2}"),
            "sk": s(f"s{number:02d}"),
            "payload": s("x" * (number % 5)),
            "kind": s("even" if number % 2 == 0 else "odd"),
        }
        if number % 7 != 3:  # some items have no gpk: they are in no global index
            item["gpk"] = s("g1" if number % 3 else "g2")
        if number % 5 != 4:  # some have gpk but no gsk: outside the indexes with gsk
            item["gsk"] = s(f"k{number % 6}")  # ties: several items share a gsk
        if number % 4 != 1:
            item["score"] = n((number * 7) % 17 - 4)  # negative, positive, 10 after 9
        if number % 3 == 0:  # every attribute type, as the serializer writes them
            item.update(TYPED)
        items.append(item)
    return items


def create_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": name_, "AttributeType": kind}
            for name_, kind in (("pk", "S"), ("sk", "S"), ("gpk", "S"), ("gsk", "S"), ("score", "N"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_GROUP,
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "gsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BY_SCORE,
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BY_GROUP_ONLY,
                "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": KEYS_ONLY,
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "gsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": LOCAL,
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "gsk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def query(index: str | None, partition: str, condition: str = "", **parameters: Any) -> dict[str, Any]:
    """A Query of `partition` (on the index's hash key, or the table's), optionally with a range condition."""
    hash_name = "pk" if index in (None, LOCAL) else "gpk"
    expression = f"{hash_name} = :h" + (f" AND {condition}" if condition else "")
    values = {":h": s(partition), **parameters.pop("values", {})}
    return {
        **({"IndexName": index} if index else {}),
        "KeyConditionExpression": expression,
        "ExpressionAttributeValues": values,
        **parameters,
    }


def pages(
    client: Any,
    table: str,
    request: dict[str, Any],
    limit_pages: int = 60,
    start: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every page of a query (from `start`, an ExclusiveStartKey), following LastEvaluatedKey; an
    error ends the list."""
    answers: list[dict[str, Any]] = []
    for _ in range(limit_pages):
        try:
            page = client.query(TableName=table, **request, **({"ExclusiveStartKey": start} if start else {}))
        except ClientError as error:
            answers.append(
                {"error": error.response["Error"]["Code"], "message": error.response["Error"]["Message"]}
            )
            return answers
        answers.append({key: page.get(key) for key in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        start = page.get("LastEvaluatedKey")
        if not start:
            return answers
    raise AssertionError("the query did not end")


def items_of(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in answers for item in page.get("Items") or []]


QUERIES: dict[str, dict[str, Any]] = {
    "index, every item of a partition in order": query(BY_GROUP, "g1"),
    "index, newest first, pages of 3": query(BY_GROUP, "g1", ScanIndexForward=False, Limit=3),
    "index, oldest first, pages of 2": query(BY_GROUP, "g1", Limit=2),
    "index, pages of 1 through ties on the sort key": query(BY_GROUP, "g2", Limit=1),
    "index, another partition, backward pages of 4": query(BY_GROUP, "g2", ScanIndexForward=False, Limit=4),
    "index, a partition nobody has": query(BY_GROUP, "nobody", Limit=5),
    "index, begins_with, pages of 2": query(
        BY_GROUP, "g1", "begins_with(gsk, :p)", values={":p": s("k1")}, Limit=2
    ),
    "index, BETWEEN backward, pages of 2": query(
        BY_GROUP,
        "g1",
        "gsk BETWEEN :a AND :b",
        values={":a": s("k1"), ":b": s("k4")},
        Limit=2,
        ScanIndexForward=False,
    ),
    "index, greater than, pages of 3": query(BY_GROUP, "g1", "gsk > :a", values={":a": s("k2")}, Limit=3),
    "index, numbers sort as numbers, pages of 3": query(BY_SCORE, "g1", Limit=3),
    "index, numbers backward below a bound": query(
        BY_SCORE, "g1", "score < :top", values={":top": n(7)}, ScanIndexForward=False, Limit=4
    ),
    "index without a range key, pages of 3": query(BY_GROUP_ONLY, "g1", Limit=3),
    "index without a range key, backward": query(BY_GROUP_ONLY, "g2", ScanIndexForward=False, Limit=2),
    "KEYS_ONLY index, pages of 4": query(KEYS_ONLY, "g1", Limit=4),
    "local index, pages of 3": query(LOCAL, "p0", Limit=3),
    "local index, backward, pages of 2": query(LOCAL, "p1", ScanIndexForward=False, Limit=2),
    "index, a filter after the limit, pages of 3": query(
        BY_GROUP, "g1", Limit=3, FilterExpression="kind = :k", values={":k": s("even")}
    ),
    "index, projection, pages of 5": query(BY_GROUP, "g1", Limit=5, ProjectionExpression="sk, gsk"),
    "index, consistent read is refused": query(BY_GROUP, "g1", ConsistentRead=True),
    "index that does not exist": query("no-such-index", "g1"),
    "table, one partition in order": query(None, "p0"),
    "table, backward pages of 4": query(None, "p1", ScanIndexForward=False, Limit=4),
    "table, range condition, pages of 2": query(None, "p0", "sk >= :a", values={":a": s("s10")}, Limit=2),
    "table, a partition nobody has": query(None, "nobody"),
}


def answers_of(client: Any, table: str) -> dict[str, list[dict[str, Any]]]:
    return {name: pages(client, table, request) for name, request in QUERIES.items()}


def gsk_order(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(item["gsk"]["S"], item["pk"]["S"], item["sk"]["S"]) for item in items]


def written(client: Any, table: str) -> None:
    """Writes that move items in, out of and within the indexes (each kind of write)."""
    client.update_item(  # a new sort key: the item moves within its index partition
        TableName=table,
        Key={"pk": s("p0"), "sk": s("s02")},
        UpdateExpression="SET gsk = :k",
        ExpressionAttributeValues={":k": s("k9")},
    )
    client.update_item(  # the index's key removed: the item leaves the index
        TableName=table, Key={"pk": s("p1"), "sk": s("s05")}, UpdateExpression="REMOVE gsk"
    )
    client.update_item(  # an item without a partition key in the index gets one
        TableName=table,
        Key={"pk": s("p1"), "sk": s("s03")},
        UpdateExpression="SET gpk = :g, gsk = :k",
        ExpressionAttributeValues={":g": s("g2"), ":k": s("k0")},
    )
    client.update_item(  # an update that creates the item
        TableName=table,
        Key={"pk": s("p0"), "sk": s("s99")},
        UpdateExpression="SET gpk = :g, gsk = :k",
        ExpressionAttributeValues={":g": s("g1"), ":k": s("k3")},
    )
    client.put_item(  # an overwrite into the other index partition
        TableName=table, Item={"pk": s("p1"), "sk": s("s01"), "gpk": s("g2"), "gsk": s("k5"), "kind": s("x")}
    )
    client.delete_item(TableName=table, Key={"pk": s("p0"), "sk": s("s08")})
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": s("p1"), "sk": s("s50"), "gpk": s("g1"), "gsk": s("k2")},
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": s("p1"), "sk": s("s07")},
                    "UpdateExpression": "SET gsk = :k",
                    "ExpressionAttributeValues": {":k": s("k0")},
                }
            },
        ]
    )
    with pytest.raises(ClientError):  # cancelled: its writes, index keys included, are undone
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": s("p1"), "sk": s("s60"), "gpk": s("g1"), "gsk": s("k1")},
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": s("p0"), "sk": s("s16")},
                        "UpdateExpression": "SET gsk = :k",
                        "ExpressionAttributeValues": {":k": s("k8")},
                    }
                },
                {"Delete": {"TableName": table, "Key": {"pk": s("p1"), "sk": s("s11")}}},
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": s("p0"), "sk": s("s00")},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    batch = [
        {"PutRequest": {"Item": {"pk": s("p1"), "sk": s(f"b{i}"), "gpk": s("g1"), "gsk": s("k1")}}}
        for i in range(3)
    ]
    batch.append({"DeleteRequest": {"Key": {"pk": s("p0"), "sk": s("s12")}}})
    client.batch_write_item(RequestItems={table: batch})


def run(engine: LocalEngine, table: str, steps: list[Callable[[Any, str], None]]) -> dict[str, Any]:
    client = admin_client(engine.endpoint)
    create_table(client, table)
    for step in steps:
        step(client, table)
    return answers_of(client, table)


def seeded(client: Any, table: str) -> None:
    for item in seed_items():
        client.put_item(TableName=table, Item=item)


def queried_first(client: Any, table: str) -> None:
    """Query every index once, so that the engine's orders exist before the writes."""
    answers_of(client, table)


@pytest.fixture(scope="module")
def before_writes(engines: dict[str, LocalEngine]) -> dict[str, dict[str, Any]]:
    table = f"q-{uuid.uuid4().hex[:8]}"
    return {name: run(engine, table, [seeded]) for name, engine in engines.items()}


@pytest.fixture(scope="module")
def after_writes(engines: dict[str, LocalEngine]) -> dict[str, dict[str, Any]]:
    """The writes land after the indexes were first queried: the engine keeps its orders current."""
    table = f"w-{uuid.uuid4().hex[:8]}"
    return {name: run(engine, table, [seeded, queried_first, written]) for name, engine in engines.items()}


@pytest.mark.parametrize("name", list(QUERIES))
def test_the_engine_answers_every_query_as_stock_moto_does(
    before_writes: dict[str, dict[str, Any]], after_writes: dict[str, dict[str, Any]], name: str
) -> None:
    assert before_writes["engine"][name] == before_writes["stock"][name]
    assert after_writes["engine"][name] == after_writes["stock"][name]


def test_an_index_query_returns_its_partition_in_sort_key_order_and_leaves_out_items_without_the_key(
    before_writes: dict[str, dict[str, Any]],
) -> None:
    answers = before_writes["engine"]
    every = items_of(answers["index, every item of a partition in order"])
    expected = [item for item in seed_items() if item.get("gpk") == s("g1") and "gsk" in item]

    assert gsk_order(every) == sorted(gsk_order(expected))
    assert len(every) == len(expected) > 6


def test_pages_of_any_size_in_either_direction_add_up_to_the_whole_partition(
    before_writes: dict[str, dict[str, Any]],
) -> None:
    answers = before_writes["engine"]
    every = items_of(answers["index, every item of a partition in order"])
    forward = answers["index, oldest first, pages of 2"]
    backward = answers["index, newest first, pages of 3"]

    assert items_of(forward) == every
    assert items_of(backward) == list(reversed(every))
    assert all(page["Count"] <= 3 for page in backward)
    assert forward[0]["LastEvaluatedKey"] == {
        key: forward[0]["Items"][-1][key] for key in ("pk", "sk", "gpk", "gsk")
    }


def test_numbers_sort_as_numbers_and_a_filter_applies_after_the_limit(
    before_writes: dict[str, dict[str, Any]],
) -> None:
    answers = before_writes["engine"]
    scores = [
        int(item["score"]["N"]) for item in items_of(answers["index, numbers sort as numbers, pages of 3"])
    ]
    filtered = answers["index, a filter after the limit, pages of 3"]

    assert scores == sorted(scores)
    assert min(scores) < 0 and max(scores) >= 10
    assert all(item["kind"] == s("even") for item in items_of(filtered))
    assert any(page["ScannedCount"] > page["Count"] for page in filtered)


def test_refused_queries_get_the_same_error(before_writes: dict[str, dict[str, Any]]) -> None:
    answers = before_writes["engine"]

    assert answers["index, consistent read is refused"][0]["error"] == "ValidationException"
    assert "no-such-index" in answers["index that does not exist"][0]["message"]


def test_writes_move_items_within_into_and_out_of_the_indexes(
    after_writes: dict[str, dict[str, Any]],
) -> None:
    every = items_of(after_writes["engine"]["index, every item of a partition in order"])
    keys = {(item["pk"]["S"], item["sk"]["S"]): item["gsk"]["S"] for item in every}

    assert keys[("p0", "s02")] == "k9"  # moved within the partition
    assert ("p1", "s05") not in keys  # its index key removed
    assert keys[("p0", "s99")] == "k3"  # created by an update
    assert ("p1", "s01") not in keys  # overwritten into partition g2
    assert ("p0", "s08") not in keys  # deleted
    assert keys[("p1", "s50")] == "k2"  # written by a transaction
    assert ("p1", "s60") not in keys and keys[("p0", "s16")] == "k4"  # a cancelled transaction: undone
    assert ("p1", "s11") in keys
    assert keys[("p1", "b0")] == "k1"  # written by a batch
    assert gsk_order(every) == sorted(gsk_order(every))


# A walk whose table changes between two pages: the next page starts from the key the last one
# ended on, whatever became of the item it names. DynamoDB reads an ExclusiveStartKey as a
# position in the index's order (its key values), not as an item: a walk goes on past it after the
# item is deleted, and an item whose index key changed is found (again, or not at all) at its new
# place.

Change = Callable[[Any, str, dict[str, Any]], None]


def deleted(client: Any, table: str, key: dict[str, Any]) -> None:
    client.delete_item(TableName=table, Key={"pk": key["pk"], "sk": key["sk"]})


def index_key_set(value: str) -> Change:
    def change(client: Any, table: str, key: dict[str, Any]) -> None:
        client.update_item(
            TableName=table,
            Key={"pk": key["pk"], "sk": key["sk"]},
            UpdateExpression="SET gsk = :k",
            ExpressionAttributeValues={":k": s(value)},
        )

    return change


def index_key_removed(client: Any, table: str, key: dict[str, Any]) -> None:
    client.update_item(TableName=table, Key={"pk": key["pk"], "sk": key["sk"]}, UpdateExpression="REMOVE gsk")


def score_set(value: int) -> Change:
    def change(client: Any, table: str, key: dict[str, Any]) -> None:
        client.update_item(
            TableName=table,
            Key={"pk": key["pk"], "sk": key["sk"]},
            UpdateExpression="SET score = :v",
            ExpressionAttributeValues={":v": n(value)},
        )

    return change


# name: (the query, which page's LastEvaluatedKey the change applies to, the change)
CHANGED_WALKS: dict[str, tuple[dict[str, Any], int, Change]] = {
    "index, the start key's item deleted": (query(BY_GROUP, "g1", Limit=3), 1, deleted),
    "index, backward, the start key's item deleted": (
        query(BY_GROUP, "g1", ScanIndexForward=False, Limit=3),
        2,
        deleted,
    ),
    "index, the start key's item moved later in the order": (
        query(BY_GROUP, "g1", Limit=3),
        1,
        index_key_set("k9"),
    ),
    "index, the start key's item moved earlier in the order": (
        query(BY_GROUP, "g1", Limit=3),
        2,
        index_key_set("k0"),
    ),
    "index, backward, the start key's item moved later in the order": (
        query(BY_GROUP, "g1", ScanIndexForward=False, Limit=2),
        1,
        index_key_set("k9"),
    ),
    "index, the start key's item left the index": (query(BY_GROUP, "g1", Limit=3), 1, index_key_removed),
    "index, numbers, the start key's item moved": (query(BY_SCORE, "g1", Limit=3), 1, score_set(100)),
    "local index, the start key's item moved": (query(LOCAL, "p0", Limit=2), 1, index_key_set("k9")),
    "table, the start key's item deleted": (query(None, "p0", Limit=3), 1, deleted),
}


def changed_walk(
    client: Any, table: str, request: dict[str, Any], page: int, change: Change
) -> dict[str, Any]:
    """The first `page` pages, the change (to the item the last one's LastEvaluatedKey names), then
    the rest of the pages from that key; and the whole query after the change, unpaged."""
    before = pages(client, table, request, limit_pages=page + 60)[:page]
    key = before[-1]["LastEvaluatedKey"]
    assert key, "the walk has a next page"
    change(client, table, key)
    after = pages(client, table, request, start=key)
    unpaged = {name: value for name, value in request.items() if name != "Limit"}
    return {"before": before, "key": key, "after": after, "whole": items_of(pages(client, table, unpaged))}


@pytest.fixture(scope="module")
def changed_walks(engines: dict[str, LocalEngine]) -> dict[str, dict[str, dict[str, Any]]]:
    """Each walk on a table of its own, seeded and queried once (the engine's orders exist)."""
    answers: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in engines}
    for walk, (request, page, change) in CHANGED_WALKS.items():
        table = f"c-{uuid.uuid4().hex[:8]}"
        for name, engine in engines.items():
            client = admin_client(engine.endpoint)
            create_table(client, table)
            seeded(client, table)
            queried_first(client, table)
            answers[name][walk] = changed_walk(client, table, request, page, change)
    return answers


def order_of(request: dict[str, Any]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """An item's (or a key's) place in the order the query reads: the index's range key (a number
    compares as one), then the table's key."""
    index = request.get("IndexName")
    if index is None:
        return lambda item: (item["sk"]["S"],)
    if index == BY_SCORE:
        return lambda item: (int(item["score"]["N"]), item["pk"]["S"], item["sk"]["S"])
    return lambda item: (item["gsk"]["S"], item["pk"]["S"], item["sk"]["S"])


QUERIES_OF_WALKS = {walk: request for walk, (request, _, _) in CHANGED_WALKS.items()}


@pytest.mark.parametrize("walk", list(CHANGED_WALKS))
def test_a_walk_goes_on_from_its_start_key_whatever_became_of_the_item_it_names(
    changed_walks: dict[str, dict[str, dict[str, Any]]], walk: str
) -> None:
    engine, stock = changed_walks["engine"][walk], changed_walks["stock"][walk]
    assert engine == stock

    # What DynamoDB answers: every item now past the key's position, in the walk's direction.
    request = QUERIES_OF_WALKS[walk]
    place = order_of(request)
    start = place(engine["key"])
    if request.get("ScanIndexForward", True):
        expected = [item for item in engine["whole"] if place(item) > start]
    else:
        expected = [item for item in engine["whole"] if place(item) < start]
    assert expected, "the walk had more to read"
    assert items_of(engine["after"]) == expected


# A hand-made ExclusiveStartKey of an index query that lacks an attribute of the order (the engine
# hands it to moto's own query, local/moto_index.py). DynamoDB refuses it (400 ValidationException,
# "The provided starting key is invalid"): an index query's start key holds the table's key and the
# index's key attributes. moto 5.2.5 fails on it instead (500: Table._item_comes_before_dct reads
# DynamoType(None), a TypeError), and so does the engine, which answers as moto there.
HAND_MADE_STARTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "index, the table's key only": (query(BY_GROUP, "g1", Limit=3), {"pk": s("p0"), "sk": s("s04")}),
    "index, without the index's range key": (
        query(BY_GROUP, "g1", Limit=3),
        {"pk": s("p0"), "sk": s("s04"), "gpk": s("g1")},
    ),
    "index, without the table's range key": (
        query(BY_GROUP, "g1", Limit=3),
        {"pk": s("p0"), "gpk": s("g1"), "gsk": s("k2")},
    ),
    "local index, the table's key only": (query(LOCAL, "p0", Limit=3), {"pk": s("p0"), "sk": s("s04")}),
}


@pytest.fixture(scope="module")
def hand_made_starts(engines: dict[str, LocalEngine]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    table = f"h-{uuid.uuid4().hex[:8]}"
    answers: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for name, engine in engines.items():
        client = admin_client(engine.endpoint)
        create_table(client, table)
        seeded(client, table)
        queried_first(client, table)
        answers[name] = {
            case: pages(client, table, request, start=start)
            for case, (request, start) in HAND_MADE_STARTS.items()
        }
    return answers


@pytest.mark.parametrize("case", list(HAND_MADE_STARTS))
def test_a_hand_made_start_key_without_the_index_attributes_is_answered_as_stock_moto_does(
    hand_made_starts: dict[str, dict[str, list[dict[str, Any]]]], case: str
) -> None:
    engine, stock = hand_made_starts["engine"][case], hand_made_starts["stock"][case]
    assert engine == stock
    assert len(engine) == 1 and "error" in engine[0], "refused, not read from some position"


@pytest.mark.xfail(
    strict=True,
    reason="moto 5.2.5 (and the engine with it) answers 500, not DynamoDB's 400 ValidationException",
)
@pytest.mark.parametrize("case", list(HAND_MADE_STARTS))
def test_a_hand_made_start_key_without_the_index_attributes_is_refused_as_dynamodb_refuses_it(
    hand_made_starts: dict[str, dict[str, list[dict[str, Any]]]], case: str
) -> None:
    assert hand_made_starts["engine"][case][0].get("error") == "ValidationException"
