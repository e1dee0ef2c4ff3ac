"""The users resource: thin handlers; connexion has validated parameters and bodies already.

Headers connexion does not pass as arguments (If-Match, If-None-Match, Idempotency-Key) are read
from the request; their syntax was checked against the contract.
"""

from __future__ import annotations

from typing import Any

from connexion import request
from connexion.exceptions import BadRequestProblem

from service import users
from service.auth import CONSUMER
from service.dependencies import current
from service.gateway_events import public_path
from service.observability import count

Response = tuple[dict[str, Any] | None, int] | tuple[dict[str, Any] | None, int, dict[str, str]]
READ_OPERATION = "getUser"  # where createUser's Location header points


def _list_header(name: str) -> str | None:
    """A list-valued field (If-Match, If-None-Match) sent on one line or several: the lines mean
    their comma-joined values (RFC 9110 5.3)."""
    lines: list[str] = request.headers.getlist(name)
    return ", ".join(lines) if lines else None


def _single_header(name: str) -> str | None:
    """A field that holds one value (Idempotency-Key, a Structured Field Item): several lines are
    not one key, and taking the first would replay or refuse at random (400)."""
    lines: list[str] = request.headers.getlist(name)
    if len(lines) > 1:
        raise BadRequestProblem(detail=f"{name} was sent {len(lines)} times; send one.")
    return lines[0] if lines else None


def createUser(body: dict[str, Any]) -> Response:  # named by its operationId
    deps = current()
    key = _single_header("Idempotency-Key")
    idempotency = None
    if key is not None:
        ttl = deps.settings.idempotency_ttl_hours * 3600
        consumer = str(request.context.get(CONSUMER, ""))  # keys are the consumer's own
        idempotency = users.idempotent_request(key, body, ttl, consumer=consumer)
    try:
        user, created = users.create_user(
            deps.users, name=body["name"], email=body["email"], idempotency=idempotency
        )
    except users.EmailAlreadyUsed:
        count("DuplicateEmails")
        raise
    count("UsersCreated" if created else "IdempotentReplays")
    location = public_path(request.scope, deps.contract.operation(READ_OPERATION).url(userId=user.user_id))
    return user.to_json(), 201, {"Location": location, "ETag": user.etag}


def getUser(user_id: str) -> Response:
    user = users.get_user(current().users, user_id)
    if users.is_not_modified(_list_header("If-None-Match"), user.etag):
        return None, 304, {"ETag": user.etag}
    return user.to_json(), 200, {"ETag": user.etag}


def listUsers(limit: int = 20, cursor: str | None = None, email: str | None = None) -> Response:
    deps = current()
    codec = users.CursorCodec(deps.settings.table_name)
    page = users.list_users(deps.users, codec, limit=limit, cursor=cursor, email=email)
    document: dict[str, Any] = {"items": [user.to_json() for user in page.users]}
    if page.next_cursor:
        document["nextCursor"] = page.next_cursor
    return document, 200


def updateUser(user_id: str, body: dict[str, Any]) -> Response:
    user = users.update_user(current().users, user_id, body, _list_header("If-Match"))
    return user.to_json(), 200, {"ETag": user.etag}


def deleteUser(user_id: str) -> Response:
    users.delete_user(current().users, user_id, _list_header("If-Match"))
    count("UsersDeleted")
    return None, 204
