"""moto's DynamoDB backend with an undo log for TransactWriteItems, until upstream has it.

moto 5.2.5 deep-copies every table a transaction touches, as a rollback snapshot: each create
costs O(table). `UndoLogDynamoDBBackend.transact_write_items` is upstream's method with the change
proposed in docs/upstream/moto/ (undo-log.patch): only the items the transaction writes are
remembered, and put back if it fails. Everything else (validation, conditions, cancellation
reasons, refusing two operations on one item) is moto's own code path, unchanged.

Development tooling only: `install()` is called by the engine process (local/engine.py) at
start-up and makes moto create its DynamoDB backends from this subclass. Nothing in service/
imports it. tests/engine/ runs one transaction corpus against stock moto and against this
backend and compares the outcomes. Delete this module once moto ships the patch.

The method below is derived from moto (Apache License 2.0, (c) Steve Pulec and contributors).
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table

UPSTREAM_MOTO = "5.2.5"  # the version whose transact_write_items this mirrors

TRANSACTION_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})


class TransactionUndoLog:
    """The state a transaction is about to change, so that a failed one can be rolled back.

    Only the items the transaction writes are remembered (a copy of each, taken just before it
    is written), plus the length of each touched table's stream: O(items written), not O(table).
    """

    def __init__(self) -> None:
        self._items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self._streams: list[tuple[StreamShard, list[StreamRecord], int]] = []
        self._tables: list[Table] = []

    def remember(self, table: Table, key: dict[str, Any]) -> None:
        """Remember the item at this key (or its absence) before it is written."""
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value: DynamoType | None = None
        items: dict[DynamoType, Any] = table.items  # {hash: Item} or {hash: {range: Item}}
        previous: Item | None
        if table.range_key_attr is not None:
            range_value = DynamoType(key[table.range_key_attr])
            previous = items.get(hash_value, {}).get(range_value)
        else:
            previous = items.get(hash_value)
        # An Update modifies the existing Item in place: keep a copy of it.
        self._items.append((table, hash_value, range_value, copy.deepcopy(previous)))
        if all(seen is not table for seen in self._tables):
            self._tables.append(table)
            shard = table.stream_shard
            if shard is not None:
                self._streams.append((shard, shard.items, len(shard.items)))

    def rollback(self) -> None:
        """Put every remembered item back, newest first, and drop the stream records."""
        for table, hash_value, range_value, previous in reversed(self._items):
            items: dict[DynamoType, Any] = table.items
            if range_value is None:
                if previous is None:
                    items.pop(hash_value, None)
                else:
                    items[hash_value] = previous
            else:
                partition = items.setdefault(hash_value, {})
                if previous is None:
                    partition.pop(range_value, None)
                else:
                    partition[range_value] = previous
                if not partition:
                    del items[hash_value]
            reindex = getattr(table, "reindex", None)  # a table that keeps its indexes in order
            if reindex is not None:
                reindex(hash_value, range_value)
        for shard, records, length in self._streams:
            del records[length:]
            shard.items = records
        self._items.clear()
        self._streams.clear()
        self._tables.clear()


class UndoLogDynamoDBBackend(DynamoDBBackend):
    """moto's DynamoDB backend whose transactions keep an undo log instead of copying tables."""

    @property
    def _url_module(self) -> Any:
        # moto finds a backend's routes next to the backend's module: this one lives outside moto.
        from moto.dynamodb import urls

        return urls

    def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:  # noqa: PLR0915 - upstream's, line for line
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        # Remember the items this transaction writes, in case any of the operations fail
        undo_log = TransactionUndoLog()

        target_items: set[tuple[str, str]] = set()

        def check_unicity(table_name: str, key: dict[str, Any]) -> None:
            item = (str(table_name), str(dict(sorted(key.items()))))
            if item in target_items:
                raise MultipleTransactionsException()
            target_items.add(item)

        errors: list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]] = []
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            # Check transact writes are not performing multiple operations on the same item
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException

            try:
                op_type, op = next(iter(item.items()))
                if op_type not in TRANSACTION_OPERATIONS:
                    raise ValueError("Unsupported transaction operation")

                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]

                check_unicity(table_name, key)

                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(
                        condition_expression,
                        expression_attribute_names,
                        expression_attribute_values,
                    )
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)

                if op_type != "ConditionCheck":
                    undo_log.remember(self.get_table(table_name), key)

                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=expression_attribute_names,
                        expression_attribute_values=expression_attribute_values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                # Rollback to the original state, and reraise the error
                undo_log.rollback()
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:
                # For other exceptions, capture their details
                errors.append((type(e).__name__, str(e), original_item))

        if any(code is not None for code, _, _ in errors):
            # Rollback to the original state, and reraise the errors
            undo_log.rollback()
            raise TransactionCanceledException(errors)


def install() -> None:
    """Make moto create its DynamoDB backends from `UndoLogDynamoDBBackend` (in this process).

    moto builds one backend per account and region on first use, from the class its BackendDict
    holds; called before the first request, every backend (also after a moto reset) is ours.
    """
    if dynamodb_backends.backend is not UndoLogDynamoDBBackend and len(dynamodb_backends):
        raise RuntimeError("install() must run before moto has created a DynamoDB backend")
    dynamodb_backends.backend = UndoLogDynamoDBBackend


def installed() -> bool:
    return dynamodb_backends.backend is UndoLogDynamoDBBackend
