"""Rules about users that are neither HTTP nor DynamoDB: the user, its version and ETag, merge
patches, preconditions, idempotent creates and page cursors."""

# No `from __future__ import annotations` here: the records' annotations are evaluated once, at
# import, where a string annotation would cost each NamedTuple field a compile at every cold start.

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

PageKey = Mapping[str, str]


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


class WriteConflict(StorageUnavailable):
    """A transaction of another request holds the user (DynamoDB's TransactionConflict): this write
    did not happen and the user may or may not change. Read it again: the precondition decides.
    Past the attempts, a 503 like any busy table."""


class PreconditionRequired(UserError):
    def __init__(self) -> None:
        super().__init__("this change needs an If-Match header with the user's current ETag")


class PreconditionFailed(UserError):
    def __init__(self) -> None:
        super().__init__("the user has changed since the ETag in If-Match: read it again")


class IdempotencyKeyReused(UserError):
    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was used with another request body")


class CreatedUserDeleted(UserError):
    """A create replayed under its Idempotency-Key after the user it made was deleted: replaying it
    must not bring a deleted person's record back."""

    def __init__(self, user_id: str) -> None:
        super().__init__(
            f"the request with this Idempotency-Key created user {user_id}, which has been deleted "
            "since; nothing was created (a new key creates the user again)"
        )


class IdempotencyKeyInFlight(UserError):
    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still being processed; retry shortly")


class InvalidCursor(UserError):
    def __init__(self, why: str) -> None:
        super().__init__(f"the cursor is not one this API gave for this query ({why})")


class User(NamedTuple):
    user_id: str
    name: str
    email: str
    created_at: str
    updated_at: str
    version: int = 1
    # Hash of the Idempotency-Key that created the user (storage keeps it to delete its record).
    idempotency_key: str | None = None

    @property
    def etag(self) -> str:
        """A strong entity tag: it changes with every change of the user."""
        return f'"v{self.version}"'

    def to_json(self) -> dict[str, str]:
        """The public representation: what the contract's User schema holds, nothing else."""
        return {
            "userId": self.user_id,
            "name": self.name,
            "email": self.email,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


class IdempotentRequest(NamedTuple):
    """What a create with an Idempotency-Key stores: never the key itself, nor the email."""

    key_hash: str
    fingerprint: str  # of the parsed request body
    expires_at: int  # epoch seconds: the table's TTL removes the record after it


class UserRepository(Protocol):
    def add(self, user: User, idempotency: IdempotentRequest | None = None) -> User:
        """Store a new user, all or nothing; raise EmailAlreadyUsed if its email is taken.

        With `idempotency`: a live record of the same key and fingerprint returns the user it
        created instead (nothing written); another fingerprint raises IdempotencyKeyReused; a
        create of the same key still in progress raises IdempotencyKeyInFlight; a record whose
        user was deleted since raises CreatedUserDeleted.
        """

    def get(self, user_id: str) -> User | None:
        """The user, read consistently, or None."""

    def find_by_email(self, email: str) -> User | None:
        """The user holding this email (normalised), read consistently, or None."""

    def list(self, limit: int, after: PageKey | None) -> tuple[list[User], PageKey | None]:
        """Up to `limit` users, newest first, after `after`; and the key to continue from."""

    def update(self, current: User, changed: User) -> None:
        """Replace `current` by `changed` if the stored version is still current's (else
        PreconditionFailed, or UserNotFound if it is gone); moves the email guard when the email
        changes (EmailAlreadyUsed if taken). All or nothing; WriteConflict if another request's
        transaction holds the user."""

    def remove(self, user: User) -> None:
        """Delete the user and its email guard, and reduce its idempotency record to the key and
        the user's id until it expires (a replay of the create is then CreatedUserDeleted), if the
        stored version is still the user's (else PreconditionFailed, or UserNotFound). All or
        nothing; WriteConflict if another request's transaction holds the user."""

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


# --- Idempotent create ------------------------------------------------------------------------


def idempotency_key_value(header: str) -> str:
    """The key of an Idempotency-Key header: a Structured Field string ("...") or a bare token.

    The contract's pattern has already refused anything else (400)."""
    return header[1:-1] if len(header) >= 2 and header[0] == header[-1] == '"' else header


def fingerprint(payload: Any) -> str:
    """Of the parsed body, so that whitespace or key order do not make two equal requests differ."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_request(
    header: str, payload: Any, ttl_seconds: int, now: float | None = None, *, consumer: str = ""
) -> IdempotentRequest:
    """The record of a create under an Idempotency-Key. Keys belong to the consumer that sends them
    (the draft leaves their scope to the server): two consumers never share a key's answer."""
    key = idempotency_key_value(header)
    return IdempotentRequest(
        key_hash=hashlib.sha256(f"{consumer}\0{key}".encode()).hexdigest(),
        fingerprint=fingerprint(payload),
        expires_at=int((time.time() if now is None else now) + ttl_seconds),
    )


def create_user(
    repository: UserRepository, *, name: str, email: str, idempotency: IdempotentRequest | None = None
) -> tuple[User, bool]:
    """The user, and whether this request created it (False: a replay of an earlier create)."""
    user = new_user(name, email)
    if idempotency is not None:
        user = user._replace(idempotency_key=idempotency.key_hash)
    stored = repository.add(user, idempotency)
    return stored, stored.user_id == user.user_id


# --- Read, change, delete ------------------------------------------------------------------------


def get_user(repository: UserRepository, user_id: str) -> User:
    user = repository.get(user_id)
    if user is None:
        raise UserNotFound(user_id)
    return user


# RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, etagc = %x21 / %x23-7E / obs-text. A
# comma may sit inside the quotes, so a list is read tag by tag, not split on commas; 5.6.1: a list
# is its elements separated by commas (empty ones allowed), with optional spaces and tabs.
_ENTITY_TAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_ENTITY_TAGS = re.compile(_ENTITY_TAG)
_ENTITY_TAG_LIST = re.compile(rf"[ \t,]*(?:{_ENTITY_TAG}(?:[ \t]*,[ \t,]*{_ENTITY_TAG})*)?[ \t,]*")


def _entity_tags(header: str) -> list[str]:
    """The entity tags of an If-Match / If-None-Match field: ["*"], or its list of entity tags.

    RFC 9110 13.1.1: the field is `*` or a list of entity tags, not a mix. Anything else is no
    list: it matches no tag, so a condition on it does not hold."""
    if header.strip(" \t") == "*":
        return ["*"]
    if _ENTITY_TAG_LIST.fullmatch(header) is None:
        return []
    return _ENTITY_TAGS.findall(header)


def matches(header: str, etag: str) -> bool:
    """Strong comparison (RFC 9110 13.1.1): a weak tag (W/"...") never matches."""
    return any(tag in ("*", etag) for tag in _entity_tags(header))


def is_not_modified(header: str | None, etag: str) -> bool:
    """If-None-Match (weak comparison, RFC 9110 13.1.2)."""
    if header is None:
        return False
    return any(tag in ("*", etag) or tag.removeprefix("W/") == etag for tag in _entity_tags(header))


def holds_for_any_version(if_match: str | None) -> bool:
    """If-Match: * holds for any current representation (RFC 9110 13.1.1): a write under it is not
    refused because another request changed the user meanwhile."""
    return if_match is not None and "*" in _entity_tags(if_match)


CHANGEABLE = ("name", "email")
# A write not tied to one version (If-Match: *, a delete without If-Match) reads again when another
# write won. It loses only to a write that succeeded meanwhile, so N such writers at once all
# succeed within N attempts; past that, the user is too busy: 503 with Retry-After.
WRITE_ATTEMPTS = 5
CONFLICT_PAUSE_SECONDS = 0.02  # a transaction holding the user ends within milliseconds


def update_user(
    repository: UserRepository, user_id: str, patch: Mapping[str, Any], if_match: str | None
) -> User:
    """Apply a merge patch of `name`/`email` under If-Match (the contract allows no other field).
    Under `*` a concurrent change is read again and the patch applied to it."""
    if if_match is None:
        raise PreconditionRequired()
    values = {field: patch[field] for field in CHANGEABLE if field in patch}
    for _ in range(WRITE_ATTEMPTS):
        current = get_user(repository, user_id)
        if not matches(if_match, current.etag):
            raise PreconditionFailed()
        if all(getattr(current, field) == value for field, value in values.items()):
            return current  # nothing changes: no write, same ETag
        changed = current._replace(**values, updated_at=now_rfc3339(), version=current.version + 1)
        try:
            repository.update(current, changed)
            return changed
        except WriteConflict:
            # The other transaction may fail and leave this ETag current: read again once it ends.
            time.sleep(CONFLICT_PAUSE_SECONDS)
        except PreconditionFailed:
            if not holds_for_any_version(if_match):
                raise
    raise StorageUnavailable("the user kept changing while it was being changed")


def delete_user(repository: UserRepository, user_id: str, if_match: str | None) -> None:
    """Delete under If-Match if given; without it or under `*`, a concurrent change is read again
    and the delete retried."""
    for _ in range(WRITE_ATTEMPTS):
        current = get_user(repository, user_id)
        if if_match is not None and not matches(if_match, current.etag):
            raise PreconditionFailed()
        try:
            repository.remove(current)
            return
        except WriteConflict:
            time.sleep(CONFLICT_PAUSE_SECONDS)
        except PreconditionFailed:
            if if_match is not None and not holds_for_any_version(if_match):
                raise
    raise StorageUnavailable("the user kept changing while it was being deleted")


# --- Listing and cursors ---------------------------------------------------------------------------

LIST_QUERY = "users:newest-first"  # the one listing query; a cursor names the query it belongs to


class Page(NamedTuple):
    users: list[User]
    next_cursor: str | None


class CursorCodec:
    """Opaque, integrity-checked page cursors: base64url of the key and the query, with an HMAC.

    A cursor that was tampered with, truncated or made for another query is refused
    (InvalidCursor: a 400), never passed to the table. The MAC key is not a secret the cursor
    protects: a forged cursor could only position a walk the caller may make anyway.
    """

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(f"users-api cursor:{secret}".encode()).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, key: PageKey, query: str = LIST_QUERY) -> str:
        payload = json.dumps({"q": query, "k": dict(key)}, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(self._mac(payload) + payload).decode().rstrip("=")

    def decode(self, cursor: str, query: str = LIST_QUERY) -> PageKey:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor("not base64url") from None
        mac, payload = raw[:16], raw[16:]
        if len(mac) < 16 or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("damaged or altered")
        try:  # the MAC key is not a secret (above): what it vouches for is read with care
            document = json.loads(payload)
        except (ValueError, RecursionError):  # JSON, UTF-8 or digits
            raise InvalidCursor("malformed") from None
        if not isinstance(document, dict):
            raise InvalidCursor("malformed")
        if document.get("q") != query:
            raise InvalidCursor("made for another query")
        key = document.get("k")
        if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
            raise InvalidCursor("malformed")
        return key


def list_users(
    repository: UserRepository, codec: CursorCodec, *, limit: int, cursor: str | None, email: str | None
) -> Page:
    if email is not None:
        if cursor is not None:
            codec.decode(cursor)  # a cursor this API did not issue is refused, even here
        found = repository.find_by_email(email)
        return Page([found] if found else [], None)
    after = codec.decode(cursor) if cursor is not None else None
    users, next_key = repository.list(limit, after)
    return Page(users, codec.encode(next_key) if next_key else None)
