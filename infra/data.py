"""The users table: one DynamoDB table shaped as the repository declares it.

Keys (`KEY_SCHEMA`), global secondary indexes (`INDEXES`, every attribute projected) and the TTL
attribute (`TTL_ATTRIBUTE`) come from service.repository, the only code that reads or writes the
table; every key attribute is a string, as the repository writes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from service.repository import INDEXES, KEY_SCHEMA, TTL_ATTRIBUTE


class KeySchemaError(ValueError):
    """A key schema of the repository is not one HASH key and at most one RANGE key."""


def key_attributes(
    keys: Iterable[tuple[str, str]], where: str
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    """(partition key, sort key or None) of a declared key schema, as string attributes."""
    by_role: dict[str, list[str]] = {}
    for name, role in keys:
        by_role.setdefault(role, []).append(name)
    if (
        len(by_role.get("HASH", [])) != 1
        or len(by_role.get("RANGE", [])) > 1
        or set(by_role) - {"HASH", "RANGE"}
    ):
        raise KeySchemaError(f"{where}: expected one HASH key and at most one RANGE key, got {by_role}")

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)

    sort = by_role.get("RANGE")
    return attribute(by_role["HASH"][0]), attribute(sort[0]) if sort else None


class UsersTable(Construct):
    """On-demand, encrypted, point-in-time recovery; protected and retained outside dev."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        partition_key, sort_key = key_attributes(KEY_SCHEMA, "service.repository.KEY_SCHEMA")
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=config.settings.service.table_name,
            partition_key=partition_key,
            sort_key=sort_key,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE or None,
            deletion_protection=not config.is_dev,
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )
        for name, keys in INDEXES.items():
            index_partition, index_sort = key_attributes(keys, f"service.repository.INDEXES[{name!r}]")
            self.table.add_global_secondary_index(
                index_name=name,
                partition_key=index_partition,
                sort_key=index_sort,
                projection_type=dynamodb.ProjectionType.ALL,
            )
