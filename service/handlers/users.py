"""The users resource: thin handlers, the body already validated by connexion."""

from __future__ import annotations

from typing import Any

from service import users
from service.dependencies import current
from service.observability import count

Response = tuple[dict[str, Any] | None, int] | tuple[dict[str, Any] | None, int, dict[str, str]]
READ_OPERATION = "getUser"  # where createUser's Location header points


def createUser(body: dict[str, Any]) -> Response:  # named by its operationId
    deps = current()
    try:
        user = users.create_user(deps.users, name=body["name"], email=body["email"])
    except users.EmailAlreadyUsed:
        count("DuplicateEmails")
        raise
    count("UsersCreated")
    location = deps.contract.operation(READ_OPERATION).url(userId=user.user_id)
    return user.to_json(), 201, {"Location": location}


def getUser(user_id: str) -> Response:
    return users.get_user(current().users, user_id).to_json(), 200
