"""The users table: one DynamoDB table keyed as the repository declares (service.repository.KEY_SCHEMA)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from service.repository import KEY_SCHEMA


def _key(role: str) -> dynamodb.Attribute | None:
    """The key attribute of `role` (HASH or RANGE); the repository writes every key as a string."""
    for name, key_type in KEY_SCHEMA:
        if key_type == role:
            return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
    return None


def _partition_key() -> dynamodb.Attribute:
    key = _key("HASH")
    if key is None:
        raise ValueError("service.repository.KEY_SCHEMA declares no HASH key")
    return key


class UsersTable(Construct):
    """On-demand, encrypted, point-in-time recovery; protected and retained outside dev."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=config.settings.service.table_name,
            partition_key=_partition_key(),
            sort_key=_key("RANGE"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=not config.is_dev,
            removal_policy=RemovalPolicy.DESTROY if config.is_dev else RemovalPolicy.RETAIN,
        )
