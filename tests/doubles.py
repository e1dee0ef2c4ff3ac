"""Repository doubles for the tests that need storage to misbehave on purpose.

Each implements the whole `service.users.UserRepository` protocol: they are passed to
`create_app(repository=...)`, typed `UserRepository`, so mypy rejects a double that misses a
method the protocol gains.
"""

from __future__ import annotations

from service.users import User

SECRET = "secret internal detail: /var/task/service/repository.py line 42"


class ExplodingRepository:
    """Every call fails with an exception the service does not expect."""

    def add(self, user: User) -> None:
        raise RuntimeError(SECRET)

    def get(self, user_id: str) -> User | None:
        raise KeyError(SECRET)

    def ping(self) -> None:
        raise ZeroDivisionError(SECRET)


class CorruptRepository:
    """Reads return a user that breaks the contract (connexion's response validation catches it)."""

    def add(self, user: User) -> None:
        return None

    def get(self, user_id: str) -> User | None:
        return User(user_id="not-a-uuid", name="", email="x", created_at="then", updated_at="now")

    def ping(self) -> None:
        return None
