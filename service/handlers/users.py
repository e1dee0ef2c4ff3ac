"""Thin handlers: the body is validated by connexion before they run."""

from __future__ import annotations

from typing import Any

from service import users
from service.observability import count

Response = tuple[dict[str, Any], int] | tuple[dict[str, Any], int, dict[str, str]]


class UserHandlers:
    """Bound to one repository; methods are named after the operationIds (snake_case)."""

    def __init__(self, repository: users.UserRepository, user_location: str) -> None:
        """`user_location`: the path template of getUser, read from the contract."""
        self._repository = repository
        self._user_location = user_location

    def create_user(self, body: dict[str, Any]) -> Response:
        try:
            user = users.create_user(self._repository, name=body["name"], email=body["email"])
        except users.EmailAlreadyUsed:
            count("DuplicateEmails")
            raise
        count("UsersCreated")
        return user.to_json(), 201, {"Location": self._user_location.format(userId=user.user_id)}

    def get_user(self, user_id: str) -> Response:
        return users.get_user(self._repository, user_id).to_json(), 200

    def get_health(self) -> Response:
        self._repository.ping()
        return {"status": "ok"}, 200
