"""Rules about users that are neither HTTP nor DynamoDB."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Protocol


class UserError(Exception):
    """Base of the domain's errors (mapped to problem+json in service.errors)."""


class UserNotFound(UserError):
    def __init__(self, user_id: str) -> None:
        super().__init__(f"no user with id {user_id}")
        self.user_id = user_id


class EmailAlreadyUsed(UserError):
    def __init__(self) -> None:
        super().__init__("a user with this email already exists")


class StorageUnavailable(UserError):
    """The table cannot be reached or is throttling us: the client may retry."""


@dataclasses.dataclass(frozen=True)
class User:
    user_id: str
    name: str
    email: str
    created_at: str
    updated_at: str

    def to_json(self) -> dict[str, str]:
        """The public representation: what the contract's User schema holds, nothing else."""
        return {
            "userId": self.user_id,
            "name": self.name,
            "email": self.email,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Store a new user; raise EmailAlreadyUsed if its email is taken. Writes all or nothing."""

    def get(self, user_id: str) -> User | None:
        """The user, read consistently, or None."""

    def ping(self) -> None:
        """Return if the table is reachable; raise StorageUnavailable if not."""


def normalise_email(email: str) -> str:
    """The form under which emails are compared: surrounding blanks removed, case folded."""
    return email.strip().casefold()


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_user(name: str, email: str) -> User:
    stamp = now_rfc3339()
    return User(user_id=str(uuid.uuid4()), name=name, email=email, created_at=stamp, updated_at=stamp)


def create_user(repository: UserRepository, *, name: str, email: str) -> User:
    user = new_user(name, email)
    repository.add(user)
    return user


def get_user(repository: UserRepository, user_id: str) -> User:
    user = repository.get(user_id)
    if user is None:
        raise UserNotFound(user_id)
    return user
