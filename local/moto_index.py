"""moto's DynamoDB tables with their secondary indexes kept in order, until upstream has it.

moto 5.2.5 answers every Query by reading the whole table: it sorts every item of the table,
keeps those of the asked partition, sorts them again in the index's order, walks past the
ExclusiveStartKey one item at a time, and only then takes `Limit` items. A page of 20 costs
O(table log table): 50 ms at 100 users, 1.6 s at 10,000. The change proposed upstream
(docs/upstream/moto/0002-dynamodb-query-index-order.patch) keeps, per secondary index, each
partition's items in the index's sort order, updated on every write; a Query then finds its
partition, jumps to the ExclusiveStartKey with a binary search and reads `Limit` items. A Query
of the table itself reads only its partition.

- `IndexOrder`: one index's partitions, each a sorted list of (sort key, item), and where each
  item of the table is filed (to move it when a write changes its keys).
- `IndexedTable`: moto's `Table` that builds an index's order on the first Query of the index
  (from the table's items: O(n log n) once) and keeps every built order current on each write
  (`reindex(hash, range)`: put, delete, update, a transaction's rollback). Its `query` is
  upstream's method with the change: the candidates come from the order instead of a sort of the
  table. What the order cannot answer exactly as moto does (multi-attribute range conditions, an
  ExclusiveStartKey without every key attribute, keys that do not compare) goes to moto's own
  `query`, unchanged.
- `IndexedDynamoDBBackend`: the engine's backend (undo-log transactions, local/moto_undo.py)
  whose new tables are `IndexedTable`s and whose updates refile the updated item.

Development tooling only, installed by the engine process (local/engine.py). tests/engine/
compares a corpus of queries with stock moto. Delete this module once moto ships the patch.

The query method below is derived from moto (Apache License 2.0, (c) Steve Pulec and contributors).
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterator
from typing import Any

from moto.dynamodb.exceptions import ResourceInUseException
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import (
    RESULT_SIZE_LIMIT,
    GlobalSecondaryIndex,
    SecondaryIndex,
    Table,
)

from local.moto_undo import UndoLogDynamoDBBackend

UPSTREAM_MOTO = "5.2.5"  # the version whose Table.query this mirrors

SortKey = tuple[DynamoType, ...]
TableKey = tuple[DynamoType, DynamoType | None]


class IndexOrder:
    """The items of one secondary index, by partition, each partition in the index's order.

    The order is moto's own for an index query (`Table.sorted_items`): the index's hash and range
    attributes, then the table's hash and range attributes. It includes the table's key, so no two
    items tie. An item belongs to the index when it has every key attribute of the index.
    """

    def __init__(self, index: SecondaryIndex, hash_attrs: list[str], sort_attrs: list[str]) -> None:
        self.schema = copy.deepcopy(index.schema)
        self.key_attrs = [key["AttributeName"] for key in index.schema]
        self.hash_attrs = hash_attrs  # the index's partition
        self.sort_attrs = sort_attrs  # the order within a partition
        self.partitions: dict[SortKey, tuple[list[SortKey], list[Item]]] = {}
        self.filed: dict[TableKey, tuple[SortKey, SortKey]] = {}  # table key -> (partition, sort key)

    def add(self, key: TableKey, item: Item) -> None:
        """File the item under its index keys (not if it lacks one); TypeError: keys that do not compare."""
        if not all(item.attrs.get(name) for name in self.key_attrs):
            return
        partition = tuple(item.attrs[name] for name in self.hash_attrs)
        sort_key = tuple(item.attrs[name] for name in self.sort_attrs)
        keys, items = self.partitions.setdefault(partition, ([], []))
        position = bisect.bisect_left(keys, sort_key)
        keys.insert(position, sort_key)
        items.insert(position, item)
        self.filed[key] = (partition, sort_key)

    def discard(self, key: TableKey) -> None:
        filed = self.filed.pop(key, None)
        if filed is None:
            return
        partition, sort_key = filed
        keys, items = self.partitions[partition]
        position = bisect.bisect_left(keys, sort_key)
        del keys[position], items[position]
        if not keys:
            del self.partitions[partition]

    def candidates(self, partition: SortKey, after: SortKey | None, forward: bool) -> Iterator[Item]:
        """The partition's items in the asked direction, from the first one past `after`."""
        keys, items = self.partitions.get(partition, ([], []))
        if forward:
            start = 0 if after is None else bisect.bisect_right(keys, after)
            return (items[i] for i in range(start, len(items)))
        start = len(items) - 1 if after is None else bisect.bisect_left(keys, after) - 1
        return (items[i] for i in range(start, -1, -1))


class IndexedTable(Table):
    """moto's Table whose queries read their partition, not the whole table."""

    index_orders: dict[str, IndexOrder]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.index_orders = {}  # built on the first query of each index

    # --- keeping the orders current -------------------------------------------------------------

    def reindex(self, hash_value: DynamoType, range_value: DynamoType | None) -> None:
        """Refile the item now at this key (or its absence) in every built index order."""
        if not self.index_orders:
            return
        current = self.get_item(hash_value, range_value) if hash_value is not None else None
        names = {index.name for index in self.all_indexes()}
        for name, order in list(self.index_orders.items()):
            if name not in names:  # the index was deleted (UpdateTable)
                del self.index_orders[name]
                continue
            order.discard((hash_value, range_value))
            if current is not None:
                try:
                    order.add((hash_value, range_value), current)
                except TypeError:  # keys that do not compare: moto's own query from now on
                    del self.index_orders[name]

    def put_item(self, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
        item = super().put_item(item_attrs, *args, **kwargs)
        self.reindex(item.hash_key, item.range_key)
        return item

    def delete_item(self, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        item = super().delete_item(hash_key, range_key)
        self.reindex(hash_key, range_key)
        return item

    def _query_attrs(self, index: SecondaryIndex) -> tuple[list[str], list[str | None], str] | None:
        """moto's (hash attributes, range attributes, range key) of a query of this index."""
        hash_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        range_keys = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
        if not hash_keys:
            return None
        index_range_key: str
        if range_keys:
            index_range_key = range_keys[0]
            range_attrs: list[str | None] = [*range_keys, self.range_key_attr]
        else:
            if isinstance(index, GlobalSecondaryIndex) and self.range_key_attr:
                index_range_key = self.range_key_attr
            else:
                index_range_key = self.hash_key_attr
            range_attrs = [index_range_key, self.range_key_attr]
        return [*hash_keys, self.hash_key_attr], range_attrs, index_range_key

    def index_order(self, index: SecondaryIndex) -> IndexOrder | None:
        """The index's order, built from the table's items on first use (None: moto's own query)."""
        order = self.index_orders.get(index.name)
        if order is not None and order.schema == index.schema:
            return order
        attrs = self._query_attrs(index)
        if attrs is None:
            return None
        hash_attrs, range_attrs, _ = attrs
        order = IndexOrder(index, hash_attrs[:-1], self._generate_attr_to_sort_by(hash_attrs, range_attrs))
        try:
            for item in self.all_items():
                order.add((item.hash_key, item.range_key), item)
        except TypeError:
            return None
        self.index_orders[index.name] = order
        return order

    # --- reading ----------------------------------------------------------------------------------

    def _index_candidates(
        self,
        *,
        index_name: str | None,
        consistent_read: bool,
        range_comparison: str | None,
        exclusive_start_key: dict[str, Any] | None,
        scan_index_forward: bool,
        hash_key_conditions: list[tuple[str, DynamoType]] | None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None,
    ) -> Iterator[Item] | None:
        """The query's candidates from the index's order, or None where moto's own query must answer."""
        if not index_name:
            return None
        index = {i.name: i for i in self.all_indexes()}.get(index_name)
        if index is None or (consistent_read and index in self.global_indexes):
            return None  # moto's own query raises the right error
        range_keys = [key for key in index.schema if key["KeyType"] == "RANGE"]
        if len(range_key_conditions or []) > 1 or (range_comparison and not range_keys):
            return None  # multi-attribute range conditions, or moto's error
        order = self.index_order(index)
        if order is None:
            return None
        asked = dict(hash_key_conditions or [])
        if set(asked) != set(order.hash_attrs) or len(hash_key_conditions or []) != len(asked):
            return None
        partition = tuple(asked[name] for name in order.hash_attrs)
        after: SortKey | None = None
        if exclusive_start_key is not None:
            if not all(name in exclusive_start_key for name in order.sort_attrs):
                return None
            after = tuple(DynamoType(exclusive_start_key[name]) for name in order.sort_attrs)
        return order.candidates(partition, after, scan_index_forward)

    def query(  # noqa: PLR0915, PLR0917 - upstream's signature and loop
        self,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
        **filter_kwargs: Any,
    ) -> tuple[list[Item], int, dict[str, Any] | None]:
        arguments = (
            hash_key,
            range_comparison,
            range_objs,
            limit,
            exclusive_start_key,
            scan_index_forward,
            projection_expressions,
            index_name,
            consistent_read,
            filter_expression,
        )
        hash_attrs: list[str]
        range_attrs: list[str | None]
        possible_results: Iterator[Item]
        index_range_key: str | None = None
        last_range_key_name = range_key_conditions[-1][0] if range_key_conditions else None
        if index_name:
            candidates = self._index_candidates(
                index_name=index_name,
                consistent_read=consistent_read,
                range_comparison=range_comparison,
                exclusive_start_key=exclusive_start_key,
                scan_index_forward=scan_index_forward,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
            )
            if candidates is None:
                return super().query(
                    *arguments,
                    hash_key_conditions=hash_key_conditions,
                    range_key_conditions=range_key_conditions,
                    **filter_kwargs,
                )
            attrs = self._query_attrs(self.get_index(index_name))
            assert attrs is not None  # the index has an order
            hash_attrs, range_attrs, index_range_key = attrs
            possible_results = candidates
        else:
            if hash_key is None:
                return super().query(
                    *arguments,
                    hash_key_conditions=hash_key_conditions,
                    range_key_conditions=range_key_conditions,
                    **filter_kwargs,
                )
            hash_attrs = [self.hash_key_attr]
            range_attrs = [self.range_key_attr]
            # The partition alone, in the order of its range key (moto sorted the whole table).
            partition: Any = self.items.get(hash_key)
            if partition is None:
                in_partition: list[Item] = []
            elif self.range_key_attr:
                in_partition = sorted(
                    (item for item in partition.values() if isinstance(item, Item)),
                    key=lambda item: item.range_key,  # type: ignore[arg-type,return-value]
                )
            else:
                in_partition = [partition] if isinstance(partition, Item) else []
            if scan_index_forward is False:
                in_partition.reverse()
            possible_results = iter(in_partition)

        # FILTER (upstream's loop, unchanged)
        results: list[Item] = []
        result_size = 0
        scanned_count = 0
        last_evaluated_key = None
        processing_previous_page = exclusive_start_key is not None
        for result in possible_results:
            if processing_previous_page:
                if self._item_comes_before_dct(
                    result,
                    exclusive_start_key,
                    hash_attrs,
                    range_attrs,
                    scan_index_forward,
                ):
                    continue
                processing_previous_page = False

            reached_length_limit = len(results) == limit
            reached_size_limit = (result_size + result.size()) > RESULT_SIZE_LIMIT
            if reached_length_limit or reached_size_limit:
                last_evaluated_key = self._get_last_evaluated_key(results[-1], index_name)
                break

            if not range_comparison and not filter_kwargs:
                results.append(result)
                result_size += result.size()
                scanned_count += 1

            if range_comparison:
                range_attr_for_comparison: str | None = None
                if last_range_key_name:
                    range_attr_for_comparison = last_range_key_name
                elif index_name and index_range_key:
                    range_attr_for_comparison = index_range_key

                if range_attr_for_comparison and result.attrs.get(range_attr_for_comparison):
                    if result.attrs[range_attr_for_comparison].compare(range_comparison, range_objs):
                        results.append(result)
                        result_size += result.size()
                        scanned_count += 1
                elif not index_name and result.range_key.compare(range_comparison, range_objs):  # type: ignore[union-attr]
                    results.append(result)
                    result_size += result.size()
                    scanned_count += 1

            if filter_kwargs:
                for field, value in filter_kwargs.items():
                    dynamo_types = [DynamoType(ele) for ele in value["AttributeValueList"]]
                    if result.attrs.get(field).compare(  # type: ignore[union-attr]
                        value["ComparisonOperator"], dynamo_types
                    ):
                        results.append(result)
                        result_size += result.size()
                scanned_count += 1

        results = copy.deepcopy(results)
        if index_name:
            index = self.get_index(index_name)
            results = [index.project(r) for r in results]

        if filter_expression is not None:
            results = [item for item in results if filter_expression.expr(item)]

        if projection_expressions:
            results = [r.project(projection_expressions) for r in results]

        return results, scanned_count, last_evaluated_key


def _key_values(table: Table, key: Any) -> tuple[DynamoType, DynamoType | None] | None:
    """The (hash, range) values of an UpdateItem's key, as moto's update_item reads them."""
    try:
        if isinstance(key, dict) and table.hash_key_attr in key:
            hash_value = DynamoType(key[table.hash_key_attr])
            if table.range_key_attr is not None and table.range_key_attr in key:
                return hash_value, DynamoType(key[table.range_key_attr])
            return hash_value, None
        return DynamoType(key), None
    except (KeyError, TypeError, AttributeError):
        return None


class IndexedDynamoDBBackend(UndoLogDynamoDBBackend):
    """The engine's backend: undo-log transactions, and tables whose queries read their partition."""

    @property
    def _url_module(self) -> Any:
        # moto finds a backend's routes next to its module: the engine's handler (local/moto_responses.py).
        from local.moto_responses import urls

        return urls

    def create_table(  # noqa: PLR0917 - upstream's signature
        self,
        name: str,
        schema: list[dict[str, str]],
        throughput: dict[str, int] | None,
        attr: list[dict[str, str]],
        global_indexes: list[dict[str, Any]] | None,
        indexes: list[dict[str, Any]] | None,
        streams: dict[str, Any] | None,
        billing_mode: str,
        sse_specification: dict[str, Any] | None,
        tags: list[dict[str, str]],
        deletion_protection_enabled: bool | None,
        warm_throughput: dict[str, Any] | None,
    ) -> Table:
        """Upstream's create_table, making an IndexedTable."""
        if name in self.tables:
            raise ResourceInUseException(f"Table already exists: {name}")
        table = IndexedTable(  # type: ignore[abstract]  # as moto instantiates Table
            name,
            account_id=self.account_id,
            region=self.region_name,
            schema=schema,
            throughput=throughput,
            attr=attr,
            global_indexes=global_indexes,
            indexes=indexes,
            streams=streams,
            billing_mode=billing_mode,
            sse_specification=sse_specification,
            tags=tags,
            deletion_protection_enabled=deletion_protection_enabled,
            warm_throughput=warm_throughput,
        )
        self.tables[name] = table
        return table

    def update_item(self, table_name: str, key: dict[str, dict[str, Any]], *args: Any, **kwargs: Any) -> Item:
        table = self.get_table(table_name)
        try:
            return super().update_item(table_name, key, *args, **kwargs)
        finally:
            # moto updates the stored item in place: refile it under its new index keys.
            found = _key_values(table, key) if isinstance(table, IndexedTable) else None
            if found is not None and isinstance(table, IndexedTable):
                table.reindex(*found)


def install() -> None:
    """Make moto create its DynamoDB backends from `IndexedDynamoDBBackend` (in this process).

    moto builds one backend per account and region on first use, from the class its BackendDict
    holds; called before the first request, every backend (also after a moto reset) is ours.
    """
    if dynamodb_backends.backend is not IndexedDynamoDBBackend and len(dynamodb_backends):
        raise RuntimeError("install() must run before moto has created a DynamoDB backend")
    dynamodb_backends.backend = IndexedDynamoDBBackend


def installed() -> bool:
    return dynamodb_backends.backend is IndexedDynamoDBBackend
