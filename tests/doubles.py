"""Repository doubles for the tests that need storage to misbehave on purpose.

Each implements the whole `service.users.UserRepository` protocol: they are passed to
`create_app(repository=...)`, typed `UserRepository`, so mypy rejects a double that misses a
method the protocol gains.
"""

from __future__ import annotations

from service.users import IdempotentRequest, PageKey, User

SECRET = "secret internal detail: /var/task/service/repository.py line 42"


class ExplodingRepository:
    """Every call fails with an exception the service does not expect."""

    def add(self, user: User, idempotency: IdempotentRequest | None = None) -> User:
        raise RuntimeError(SECRET)

    def get(self, user_id: str) -> User | None:
        raise KeyError(SECRET)

    def find_by_email(self, email: str) -> User | None:
        raise LookupError(SECRET)

    def list(self, limit: int, after: PageKey | None) -> tuple[list[User], PageKey | None]:
        raise ValueError(SECRET)

    def update(self, current: User, changed: User) -> None:
        raise TypeError(SECRET)

    def remove(self, user: User) -> None:
        raise OSError(SECRET)

    def ping(self) -> None:
        raise ZeroDivisionError(SECRET)


BROKEN = User(user_id="not-a-uuid", name="", email="x", created_at="then", updated_at="now", version=7)


class CorruptRepository:
    """Reads return a user that breaks the contract (connexion's response validation catches it)."""

    def add(self, user: User, idempotency: IdempotentRequest | None = None) -> User:
        return BROKEN

    def get(self, user_id: str) -> User | None:
        return BROKEN

    def find_by_email(self, email: str) -> User | None:
        return BROKEN

    def list(self, limit: int, after: PageKey | None) -> tuple[list[User], PageKey | None]:
        return [BROKEN], None

    def update(self, current: User, changed: User) -> None:
        return None

    def remove(self, user: User) -> None:
        return None

    def ping(self) -> None:
        return None
