"""The only module that talks to DynamoDB.

Items (one table, pk/sk):
  user         pk=USER#<userId>   sk=PROFILE  userId, name, email, createdAt, updatedAt
  email guard  pk=EMAIL#<email>   sk=EMAIL    userId   (email normalised: see users.normalise_email)
A create writes both in one TransactWriteItems, each conditioned on attribute_not_exists(pk).

`ACCESS` declares every DynamoDB call this module makes. infra grants exactly its IAM actions and
alarms on exactly its operations; the repository refuses, before it leaves the process, any call
that is not declared (`_refuse_undeclared`, on botocore's public event hooks), so a method that
calls something new fails every test that reaches it until it is declared here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from service.users import EmailAlreadyUsed, StorageUnavailable, User, normalise_email

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from service.settings import ServiceSettings

logger = logging.getLogger(__name__)

USER_SK = "PROFILE"
EMAIL_SK = "EMAIL"
HEALTH_KEY = {"pk": {"S": "HEALTH#probe"}, "sk": {"S": "HEALTH"}}
NOT_EXISTS = "attribute_not_exists(pk)"
# Error codes that mean "try again later" rather than "this request is wrong".
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    }
)
TRANSACTION_ATTEMPTS = 3  # TransactionConflict is not retried by botocore
# What each kind of TransactWriteItems item needs in IAM (a transaction has no action of its own).
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


class UndeclaredCall(RuntimeError):
    """The repository made a DynamoDB call that ACCESS does not declare (IAM would refuse it on AWS)."""


@dataclasses.dataclass(frozen=True)
class TableAccess:
    """The DynamoDB calls of the repository: the one list infra derives IAM and alarms from."""

    operations: frozenset[str]  # API operations, as CloudWatch's `Operation` dimension names them
    transaction_items: frozenset[str] = frozenset()  # kinds of TransactWriteItems items
    indexes: frozenset[str] = frozenset()  # secondary indexes it queries

    def iam_actions(self) -> tuple[str, ...]:
        actions = {f"dynamodb:{name}" for name in self.operations if name != "TransactWriteItems"}
        actions.update(TRANSACTION_ITEM_ACTIONS[kind] for kind in self.transaction_items)
        return tuple(sorted(actions))


ACCESS = TableAccess(
    operations=frozenset({"GetItem", "TransactWriteItems"}),
    transaction_items=frozenset({"Put"}),
)
# The table's keys, for infra (the AWS table) and the local engine (local/tables.py).
KEY_SCHEMA = (("pk", "HASH"), ("sk", "RANGE"))


def user_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": USER_SK}}


def email_key(email: str) -> dict[str, Any]:
    return {"pk": {"S": f"EMAIL#{normalise_email(email)}"}, "sk": {"S": EMAIL_SK}}


def _user_item(user: User) -> dict[str, Any]:
    return {
        **user_key(user.user_id),
        "userId": {"S": user.user_id},
        "name": {"S": user.name},
        "email": {"S": user.email},
        "createdAt": {"S": user.created_at},
        "updatedAt": {"S": user.updated_at},
    }


def _user_from_item(item: dict[str, Any]) -> User:
    return User(
        user_id=item["userId"]["S"],
        name=item["name"]["S"],
        email=item["email"]["S"],
        created_at=item["createdAt"]["S"],
        updated_at=item["updatedAt"]["S"],
    )


def make_client(settings: ServiceSettings) -> DynamoDBClient:
    """A DynamoDB client with the stage's timeouts and retries (endpoint_url for a local engine).

    Made by a botocore session: boto3 adds nothing to a low-level client (its DynamoDB extras are
    for resources) and importing it costs the cold start ~15 ms.
    """
    from botocore.config import Config
    from botocore.session import get_session

    config = Config(
        connect_timeout=settings.dynamodb_connect_timeout_seconds,
        read_timeout=settings.dynamodb_read_timeout_seconds,
        retries={"mode": "standard", "total_max_attempts": settings.dynamodb_max_attempts},
    )
    client = get_session().create_client(
        "dynamodb",
        region_name=settings.dynamodb_region,
        endpoint_url=settings.dynamodb_endpoint or None,
        config=config,
    )
    return cast("DynamoDBClient", client)


def _refuse_undeclared(model: Any, params: dict[str, Any], **_: Any) -> None:
    """botocore `before-call` hook: a call outside ACCESS never reaches DynamoDB."""
    if model.name not in ACCESS.operations:
        raise UndeclaredCall(f"DynamoDB {model.name} is not declared in service.repository.ACCESS")
    for item in params.get("TransactItems", ()):
        for kind in item:
            if kind not in ACCESS.transaction_items:
                raise UndeclaredCall(
                    f"TransactWriteItems item {kind!r} is not declared in service.repository.ACCESS"
                )


class DynamoUserRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name
        client.meta.events.register("before-call.dynamodb", _refuse_undeclared)

    def add(self, user: User) -> None:
        items = [
            {"Put": {"TableName": self._table, "Item": _user_item(user), "ConditionExpression": NOT_EXISTS}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**email_key(user.email), "userId": {"S": user.user_id}},
                    "ConditionExpression": NOT_EXISTS,
                }
            },
        ]
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with _storage_errors():
                    self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                if codes[:1] == ["ConditionalCheckFailed"]:
                    # The user item, keyed by the id generated for this very request, exists: an
                    # earlier attempt of this create landed (botocore retried after a timeout and
                    # the engine did not honour the idempotency token). The write is done.
                    logger.info("create already applied by an earlier attempt")
                    return
                if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                    raise EmailAlreadyUsed() from None
                if "TransactionConflict" in codes or "ThrottlingError" in codes:
                    logger.info("create transaction cancelled (%s), attempt %d", codes, attempt)
                    continue
                raise
        raise StorageUnavailable("the create kept conflicting with concurrent writes")

    def get(self, user_id: str) -> User | None:
        with _storage_errors():
            response = self._client.get_item(
                TableName=self._table, Key=user_key(user_id), ConsistentRead=True
            )
        item = response.get("Item")
        return _user_from_item(item) if item else None

    def ping(self) -> None:
        with _storage_errors():
            self._client.get_item(TableName=self._table, Key=HEALTH_KEY, ProjectionExpression="pk")


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """Turn 'the engine is unreachable, slow or throttling' into StorageUnavailable."""
    try:
        yield
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in RETRYABLE_CODES or code == "ResourceNotFoundException":
            raise StorageUnavailable(code) from error
        raise
    except (ConnectionError, HTTPClientError) as error:
        raise StorageUnavailable(type(error).__name__) from error
