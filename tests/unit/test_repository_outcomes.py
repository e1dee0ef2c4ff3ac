"""How the repository reads a cancelled create transaction (pure logic, a fake client)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.hooks import HierarchicalEmitter

from service.repository import TRANSACTION_ATTEMPTS, DynamoUserRepository
from service.users import (
    EmailAlreadyUsed,
    IdempotencyKeyInFlight,
    IdempotentRequest,
    StorageUnavailable,
    WriteConflict,
    new_user,
)


class CancellingClient:
    """Answers every TransactWriteItems with the given cancellation reasons, in turn."""

    def __init__(self, *outcomes: list[str] | None) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0
        self.meta = SimpleNamespace(events=HierarchicalEmitter())  # where the repository hooks in

    def transact_write_items(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        codes = self.outcomes.pop(0)
        if codes is None:
            return {}
        response: Any = {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        }
        raise ClientError(response, "TransactWriteItems")


def repository(client: CancellingClient) -> DynamoUserRepository:
    return DynamoUserRepository(client, "t")  # type: ignore[arg-type]


def test_a_taken_email_is_email_already_used() -> None:
    with pytest.raises(EmailAlreadyUsed):
        repository(CancellingClient(["None", "ConditionalCheckFailed"])).add(new_user("A", "a@b.c"))


def test_our_own_user_item_existing_means_an_earlier_attempt_landed() -> None:
    client = CancellingClient(["ConditionalCheckFailed", "ConditionalCheckFailed"])
    repository(client).add(new_user("A", "a@b.c"))
    assert client.calls == 1


def test_conflicts_with_concurrent_transactions_are_retried_then_reported_unavailable() -> None:
    client = CancellingClient(["TransactionConflict", "None"], None)
    repository(client).add(new_user("A", "a@b.c"))
    assert client.calls == 2
    always = CancellingClient(*[["None", "TransactionConflict"]] * TRANSACTION_ATTEMPTS)
    with pytest.raises(StorageUnavailable):
        repository(always).add(new_user("A", "a@b.c"))
    assert always.calls == TRANSACTION_ATTEMPTS


def test_a_transaction_still_throttled_after_its_retries_is_storage_unavailable() -> None:
    """A busy table is a 503 with Retry-After, for a create, an email change and a delete alike."""
    user = new_user("A", "a@b.c")
    writes: dict[str, Callable[[DynamoUserRepository], object]] = {
        "create": lambda repo: repo.add(user),
        "email change": lambda repo: repo.update(user, user._replace(email="b@c.d", version=2)),
        "delete": lambda repo: repo.remove(user),
    }
    for name, write in writes.items():
        for code in ("ThrottlingError", "ProvisionedThroughputExceeded"):
            client = CancellingClient(*[[code, "None", "None"]] * TRANSACTION_ATTEMPTS)
            with pytest.raises(StorageUnavailable):
                write(repository(client))
            assert client.calls == TRANSACTION_ATTEMPTS, name
        once = CancellingClient(["None", "ThrottlingError", "None"], None)
        write(repository(once))
        assert once.calls == 2, name


class ConflictingUpdateClient(CancellingClient):
    """Answers UpdateItem as DynamoDB does while a transaction is in progress on the item."""

    def update_item(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        response: Any = {"Error": {"Code": "TransactionConflictException", "Message": "in progress"}}
        raise ClientError(response, "UpdateItem")


def test_a_change_meeting_a_transaction_on_the_user_is_a_write_conflict_not_a_500() -> None:
    """botocore does not retry TransactionConflictException on UpdateItem: another request's delete
    or email move holds the user, and may yet fail. A conflict (read again), never an unexpected
    error, and not a stale ETag either: the ETag may still be current."""
    user = new_user("A", "a@b.c")
    client = ConflictingUpdateClient()
    with pytest.raises(WriteConflict):
        repository(client).update(user, user._replace(name="B", version=2))
    assert client.calls == 1


def test_a_create_racing_for_the_email_under_another_key_is_not_reported_as_its_key_in_flight() -> None:
    """Only a conflict on this key's own record means a request with the same key is in flight."""
    user = new_user("A", "a@b.c")
    request = IdempotentRequest("k" * 64, "f" * 64, 2_000_000_000)
    on_the_email = CancellingClient(*[["None", "TransactionConflict", "None"]] * TRANSACTION_ATTEMPTS)
    with pytest.raises(StorageUnavailable) as raised:
        repository(on_the_email).add(user, request)
    assert not isinstance(raised.value, IdempotencyKeyInFlight)
    on_the_key = CancellingClient(*[["None", "None", "TransactionConflict"]] * TRANSACTION_ATTEMPTS)
    with pytest.raises(IdempotencyKeyInFlight):
        repository(on_the_key).add(user, request)
