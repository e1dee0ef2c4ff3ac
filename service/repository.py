"""The only module that talks to DynamoDB.

Items (one table, pk/sk; every write that touches two items is one TransactWriteItems):
  user         pk=USER#<userId>          sk=PROFILE      userId, name, email, createdAt, updatedAt,
                                                          version, listPk, listSk[, idempotencyKey]
  email guard  pk=EMAIL#<email>          sk=EMAIL        userId   (email normalised: users.normalise_email)
  idempotency  pk=IDEMPOTENCY#<sha256>   sk=IDEMPOTENCY  userId, fingerprint, expiresAt (the table's TTL);
                                                          the user's delete removes the fingerprint
The index `users-by-creation` (listPk="USERS", listSk="<createdAt>#<userId>", all attributes)
lists users newest first.

`ACCESS` declares every DynamoDB call this module makes. infra grants exactly its IAM actions and
alarms on exactly its operations; the repository refuses, before it leaves the process, any call
that is not declared (`_refuse_undeclared`, on botocore's public event hooks), so a method that
calls something new fails every test that reaches it until it is declared here.

In a Lambda invocation, an attempt (a retry included) is sent only if the invocation's deadline
(service.time_limits) leaves room for it at its longest, botocore's wait before another, and the 503
(`_refuse_late_attempt`): a DynamoDB brownout gets the contract's 503 before Lambda's timeout
could kill the function (API Gateway would answer 502), however many calls a request chains and
however long botocore waits between attempts.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from service import module_logger
from service.time_limits import CallLimits, seconds_left
from service.users import (
    CreatedUserDeleted,
    EmailAlreadyUsed,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    IdempotentRequest,
    InvalidCursor,
    PageKey,
    PreconditionFailed,
    StorageUnavailable,
    User,
    UserNotFound,
    WriteConflict,
    normalise_email,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from service.settings import ServiceSettings

logger = module_logger(__name__)

USER_SK = "PROFILE"
EMAIL_SK = "EMAIL"
IDEMPOTENCY_SK = "IDEMPOTENCY"
HEALTH_KEY = {"pk": {"S": "HEALTH#probe"}, "sk": {"S": "HEALTH"}}
NOT_EXISTS = "attribute_not_exists(pk)"
ALL_USERS = "USERS"
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
# Time kept to answer once the repository gives up: the 503 problem, the logs and metrics, the pauses
# between transaction attempts (tens of ms).
ANSWER_RESERVE_SECONDS = 1.0
DEADLINE_GUARD = "users-api-deadline"  # the before-send hook's id: one per client
# A cancelled transaction's reasons that say the table (or an index) is over its capacity: botocore
# retries a throttled call, but not a transaction cancelled because one of its items was throttled.
THROTTLED_ITEM_CODES = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})
# What each kind of TransactWriteItems item needs in IAM (a transaction has no action of its own).
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


class UndeclaredCall(RuntimeError):
    """The repository made a DynamoDB call that ACCESS does not declare (IAM would refuse it on AWS)."""


class TableAccess(NamedTuple):
    """The DynamoDB calls of the repository: the one list infra derives IAM and alarms from."""

    operations: frozenset[str]  # API operations, as CloudWatch's `Operation` dimension names them
    transaction_items: frozenset[str] = frozenset()  # kinds of TransactWriteItems items
    indexes: frozenset[str] = frozenset()  # secondary indexes it queries

    def iam_actions(self) -> tuple[str, ...]:
        actions = {f"dynamodb:{name}" for name in self.operations if name != "TransactWriteItems"}
        actions.update(TRANSACTION_ITEM_ACTIONS[kind] for kind in self.transaction_items)
        return tuple(sorted(actions))


USERS_INDEX = "users-by-creation"
ACCESS = TableAccess(
    operations=frozenset({"GetItem", "Query", "UpdateItem", "TransactWriteItems"}),
    transaction_items=frozenset({"Put", "Update", "Delete"}),
    indexes=frozenset({USERS_INDEX}),
)
# The table's shape, for infra (the AWS table) and the local engine (local/tables.py).
KEY_SCHEMA = (("pk", "HASH"), ("sk", "RANGE"))
# Global secondary indexes: name -> (hash key, range key); every attribute projected, strings.
INDEXES = {USERS_INDEX: (("listPk", "HASH"), ("listSk", "RANGE"))}
FINGERPRINT = "fingerprint"  # of an idempotent create's body; removed when its user is deleted
TTL_ATTRIBUTE = "expiresAt"  # epoch seconds; DynamoDB deletes expired items (within about 48 h)


def user_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{user_id}"}, "sk": {"S": USER_SK}}


def email_key(email: str) -> dict[str, Any]:
    return {"pk": {"S": f"EMAIL#{normalise_email(email)}"}, "sk": {"S": EMAIL_SK}}


def idempotency_key(key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"IDEMPOTENCY#{key_hash}"}, "sk": {"S": IDEMPOTENCY_SK}}


def _user_item(user: User) -> dict[str, Any]:
    item = {
        **user_key(user.user_id),
        "userId": {"S": user.user_id},
        "name": {"S": user.name},
        "email": {"S": user.email},
        "createdAt": {"S": user.created_at},
        "updatedAt": {"S": user.updated_at},
        "version": {"N": str(user.version)},
        "listPk": {"S": ALL_USERS},
        "listSk": {"S": f"{user.created_at}#{user.user_id}"},
    }
    if user.idempotency_key:
        item["idempotencyKey"] = {"S": user.idempotency_key}
    return item


def _user_from_item(item: Mapping[str, Any]) -> User:
    return User(
        user_id=item["userId"]["S"],
        name=item["name"]["S"],
        email=item["email"]["S"],
        created_at=item["createdAt"]["S"],
        updated_at=item["updatedAt"]["S"],
        version=int(item.get("version", {}).get("N", "1")),
        idempotency_key=item.get("idempotencyKey", {}).get("S"),
    )


def _is_applied(item: Mapping[str, Any], changed: User) -> bool:
    """Whether the stored user is `changed` already: the values, the version and the update's time
    (to the millisecond). Another request that made the very same change at the same millisecond
    would pass too, and its client is told what is true: the user is as it asked."""
    return _user_from_item(item)._replace(idempotency_key=None) == changed._replace(idempotency_key=None)


def _page_key(item: Mapping[str, Any]) -> dict[str, str]:
    return {name: item[name]["S"] for name in ("pk", "sk", "listPk", "listSk")}


def _check_page_key(key: PageKey) -> dict[str, Any]:
    """A page key as DynamoDB wants it, if it has the shape this repository gives them."""
    if set(key) != {"pk", "sk", "listPk", "listSk"} or key["listPk"] != ALL_USERS or key["sk"] != USER_SK:
        raise InvalidCursor("malformed")
    user_id = key["pk"].removeprefix("USER#")
    if key["pk"] == user_id or not key["listSk"].endswith(f"#{user_id}"):
        raise InvalidCursor("malformed")
    return {name: {"S": value} for name, value in key.items()}


def _reasons(error: ClientError) -> list[dict[str, Any]]:
    """A cancelled transaction's reasons, one per item ({"Code": ..., "Item": ...})."""
    return list(error.response.get("CancellationReasons") or [])  # type: ignore[arg-type]


def _code(reasons: list[dict[str, Any]], index: int) -> str:
    return str(reasons[index].get("Code", "None")) if index < len(reasons) else "None"


def dynamodb_limits(settings: ServiceSettings) -> CallLimits:
    """The stage's DynamoDB timeouts and attempts (botocore's standard retry mode)."""
    return CallLimits(
        settings.dynamodb_connect_timeout_seconds,
        settings.dynamodb_read_timeout_seconds,
        settings.dynamodb_max_attempts,
    )


def make_client(settings: ServiceSettings) -> DynamoDBClient:
    """A DynamoDB client with the stage's timeouts and retries (endpoint_url for a local engine).

    Made by a botocore session: boto3 adds nothing to a low-level client (its DynamoDB extras are
    for resources) and importing it costs the cold start ~15 ms.
    """
    from botocore.session import get_session

    config = dynamodb_limits(settings).botocore_config()
    client = get_session().create_client(
        "dynamodb",
        region_name=settings.dynamodb_region,
        endpoint_url=settings.dynamodb_endpoint or None,
        config=config,
    )
    return cast("DynamoDBClient", client)


def limits_of(client: Any) -> CallLimits | None:
    """The timeouts and attempts a client made by `make_client` was given (None for another)."""
    config = getattr(client.meta, "config", None)
    retries = getattr(config, "retries", None) or {}
    attempts = retries.get("total_max_attempts")
    if config is None or not isinstance(attempts, int):
        return None
    return CallLimits(float(config.connect_timeout), float(config.read_timeout), attempts)


def attempt_reserve_seconds(limits: CallLimits) -> float:
    """What an attempt needs left before the request's deadline: the attempt at its longest, the
    longest wait botocore may then put before another, and the time to answer 503 after that."""
    return limits.attempt_seconds + limits.longest_wait_seconds + ANSWER_RESERVE_SECONDS


def _refuse_late_attempt(reserve_seconds: float, **_: Any) -> None:
    """botocore `before-send` hook, before each attempt (retries included): a request whose deadline
    (a Lambda invocation's) leaves less than `reserve_seconds` answers 503 now, instead of being
    killed by the timeout mid-attempt or mid-backoff (the client would get API Gateway's 502)."""
    left = seconds_left()
    if left is not None and left < reserve_seconds:
        raise StorageUnavailable(
            f"{left:.2f} s left before the function's timeout, {reserve_seconds:.2f} s needed for "
            "another DynamoDB attempt"
        )


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
        limits = limits_of(client)
        if limits is not None:
            guard = functools.partial(_refuse_late_attempt, attempt_reserve_seconds(limits))
            client.meta.events.register("before-send.dynamodb", guard, unique_id=DEADLINE_GUARD)

    def _transact(self, items: list[dict[str, Any]], token: str | None = None) -> None:
        """One TransactWriteItems, retried on TransactionConflict; a cancellation is re-raised."""
        extra = {"ClientRequestToken": token} if token else {}
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with _storage_errors():
                    self._client.transact_write_items(TransactItems=items, **extra)  # type: ignore[arg-type]
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [str(reason.get("Code", "None")) for reason in _reasons(error)]
                throttled = not THROTTLED_ITEM_CODES.isdisjoint(codes)
                if ("TransactionConflict" in codes or throttled) and attempt < TRANSACTION_ATTEMPTS:
                    logger.info("transaction cancelled (%s), attempt %d", codes, attempt)
                    time.sleep(0.02 * attempt)
                    continue
                if throttled and "ConditionalCheckFailed" not in codes:
                    # Still throttled after the retries: the table is busy, not the request wrong.
                    raise StorageUnavailable(f"transaction throttled ({', '.join(codes)})") from error
                raise

    # --- create ---------------------------------------------------------------------------------

    def add(self, user: User, idempotency: IdempotentRequest | None = None) -> User:
        items: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": _user_item(user), "ConditionExpression": NOT_EXISTS}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**email_key(user.email), "userId": {"S": user.user_id}},
                    "ConditionExpression": NOT_EXISTS,
                }
            },
        ]
        if idempotency is not None:
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": {
                            **idempotency_key(idempotency.key_hash),
                            "userId": {"S": user.user_id},
                            FINGERPRINT: {"S": idempotency.fingerprint},
                            TTL_ATTRIBUTE: {"N": str(idempotency.expires_at)},
                        },
                        # An expired record the TTL has not removed yet counts as absent.
                        "ConditionExpression": "attribute_not_exists(pk) OR #expires < :now",
                        "ExpressionAttributeNames": {"#expires": TTL_ATTRIBUTE},
                        "ExpressionAttributeValues": {":now": {"N": str(int(time.time()))}},
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        try:
            # The token makes the engine's own retries of this very call idempotent (DynamoDB
            # replays a transaction with the same token for 10 minutes).
            self._transact(items, token=user.user_id)
            return user
        except ClientError as error:
            reasons = _reasons(error)
            if idempotency is not None and _code(reasons, 2) == "TransactionConflict":
                # Another request's transaction holds this key's record: that request is in flight.
                raise IdempotencyKeyInFlight() from None
            if "TransactionConflict" in [_code(reasons, i) for i in range(len(reasons))]:
                # Only the email's guard (or the user item) was held: other keys, or none.
                raise StorageUnavailable("the create kept conflicting with concurrent writes") from None
            if idempotency is not None and _code(reasons, 2) == "ConditionalCheckFailed":
                return self._replay(reasons[2].get("Item") or {}, idempotency)
            if _code(reasons, 0) == "ConditionalCheckFailed":
                # The user item, keyed by the id generated for this very request, exists: an
                # earlier attempt of this create landed (botocore retried after a timeout and
                # the engine did not honour the token). The write is done.
                logger.info("create already applied by an earlier attempt")
                return user
            if _code(reasons, 1) == "ConditionalCheckFailed":
                raise EmailAlreadyUsed() from None
            raise

    def _replay(self, record: Mapping[str, Any], idempotency: IdempotentRequest) -> User:
        if "userId" not in record:  # an engine that returned no item with the cancellation
            raise IdempotencyKeyInFlight()
        user_id = record["userId"]["S"]
        if FINGERPRINT not in record:  # the user's delete left only the key and its id
            raise CreatedUserDeleted(user_id)
        if record[FINGERPRINT]["S"] != idempotency.fingerprint:
            raise IdempotencyKeyReused()
        user = self.get(user_id)
        if user is None:  # deleted between the create's attempt and this read
            raise CreatedUserDeleted(user_id)
        return user

    # --- reads ------------------------------------------------------------------------------------

    def get(self, user_id: str) -> User | None:
        with _storage_errors():
            response = self._client.get_item(
                TableName=self._table, Key=user_key(user_id), ConsistentRead=True
            )
        item = response.get("Item")
        return _user_from_item(item) if item else None

    def find_by_email(self, email: str) -> User | None:
        with _storage_errors():
            guard = self._client.get_item(TableName=self._table, Key=email_key(email), ConsistentRead=True)
        item = guard.get("Item")
        if not item:
            return None
        user = self.get(item["userId"]["S"])
        # A guard is written and deleted with its user, in one transaction: they agree.
        return user if user and normalise_email(user.email) == normalise_email(email) else None

    def list(self, limit: int, after: PageKey | None) -> tuple[list[User], PageKey | None]:
        start = {"ExclusiveStartKey": _check_page_key(after)} if after else {}
        with _storage_errors():
            # One more than asked: whether there is a next page is then known without a second call.
            response = self._client.query(
                TableName=self._table,
                IndexName=USERS_INDEX,
                KeyConditionExpression="listPk = :all",
                ExpressionAttributeValues={":all": {"S": ALL_USERS}},
                ScanIndexForward=False,
                Limit=limit + 1,
                **start,  # type: ignore[arg-type]
            )
        items = response.get("Items", [])
        users = [_user_from_item(item) for item in items[:limit]]
        more = len(items) > limit or "LastEvaluatedKey" in response  # (a 1 MB page can stop short)
        return users, (_page_key(items[len(users) - 1]) if more and users else None)

    # --- changes ----------------------------------------------------------------------------------

    def _user_update(self, current: User, changed: User) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": user_key(current.user_id),
            "UpdateExpression": "SET #name = :name, email = :email, updatedAt = :updated, version = :next",
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeNames": {"#name": "name"},
            "ExpressionAttributeValues": {
                ":name": {"S": changed.name},
                ":email": {"S": changed.email},
                ":updated": {"S": changed.updated_at},
                ":next": {"N": str(changed.version)},
                ":expected": {"N": str(current.version)},
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def update(self, current: User, changed: User) -> None:
        update = self._user_update(current, changed)
        if normalise_email(current.email) == normalise_email(changed.email):
            try:
                with _storage_errors():
                    self._client.update_item(**update)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code == "TransactionConflictException":
                    # A transaction (a delete, an email move) holds this user; it may yet fail.
                    raise WriteConflict() from None
                if code != "ConditionalCheckFailedException":
                    raise
                old = cast("Mapping[str, Any] | None", error.response.get("Item"))
                if old is not None and _is_applied(old, changed):
                    # botocore sent the call again (its answer was lost: a timeout, a dropped
                    # connection) and the first attempt had applied it: this request's own change.
                    logger.info("update already applied by an earlier attempt")
                    return
                raise self._stale(current.user_id, old) from None
            return
        # The email moves: the user, the old guard and the new guard in one transaction.
        items = [
            {"Update": update},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": email_key(current.email),
                    "ConditionExpression": "attribute_not_exists(pk) OR userId = :id",
                    "ExpressionAttributeValues": {":id": {"S": current.user_id}},
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**email_key(changed.email), "userId": {"S": current.user_id}},
                    "ConditionExpression": NOT_EXISTS,
                }
            },
        ]
        try:
            self._transact(items)
        except ClientError as error:
            reasons = _reasons(error)
            if _code(reasons, 0) == "ConditionalCheckFailed":
                raise self._stale(current.user_id, reasons[0].get("Item")) from None
            if _code(reasons, 2) == "ConditionalCheckFailed":
                raise EmailAlreadyUsed() from None
            if "TransactionConflict" in [_code(reasons, i) for i in range(len(reasons))]:
                raise WriteConflict() from None  # still held after the retries: read again
            raise

    def remove(self, user: User) -> None:
        owned = "attribute_not_exists(pk) OR userId = :id"
        items: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": user_key(user.user_id),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(user.version)}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": email_key(user.email),
                    "ConditionExpression": owned,
                    "ExpressionAttributeValues": {":id": {"S": user.user_id}},
                }
            },
        ]
        if user.idempotency_key:
            # The record stays until it expires, so that a late retry of the create cannot bring
            # the user back; what described the person (the body's fingerprint) goes now. A record
            # the TTL already removed comes back as an expired one (the TTL removes it again; a
            # create with the key treats it as absent), so the delete needs no second attempt. A
            # record that names another user (the key used again since) is left alone (below).
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": idempotency_key(user.idempotency_key),
                        "UpdateExpression": "REMOVE #fingerprint SET userId = :id, "
                        "#expires = if_not_exists(#expires, :now)",
                        "ConditionExpression": owned,
                        "ExpressionAttributeNames": {"#fingerprint": FINGERPRINT, "#expires": TTL_ATTRIBUTE},
                        "ExpressionAttributeValues": {
                            ":id": {"S": user.user_id},
                            ":now": {"N": str(int(time.time()))},
                        },
                    }
                }
            )
        try:
            self._transact(items)
        except ClientError as error:
            reasons = _reasons(error)
            codes = [_code(reasons, i) for i in range(len(reasons))]
            if codes[:1] == ["ConditionalCheckFailed"]:
                raise self._stale(user.user_id, reasons[0].get("Item")) from None
            if user.idempotency_key and codes == ["None", "None", "ConditionalCheckFailed"]:
                # The record names another user: the key was used again after this user's record
                # expired, and is that user's now. This user goes without it.
                logger.info("idempotency record reused by another user: deleting without it")
                self.remove(user._replace(idempotency_key=None))
                return
            if "ConditionalCheckFailed" in codes:
                # A guard or record names another user: the user changed meanwhile. Read again.
                raise PreconditionFailed() from None
            if "TransactionConflict" in codes:
                raise WriteConflict() from None
            raise

    @staticmethod
    def _stale(user_id: str, old: Mapping[str, Any] | None) -> Exception:
        """A failed version condition: the user is gone (404) or was changed (412)."""
        return PreconditionFailed() if old else UserNotFound(user_id)

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
