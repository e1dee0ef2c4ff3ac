"""Access tokens for the tests: good ones from the session's local issuer, and every kind of bad one
the function must refuse (each a 401), all built from the contract's scopes and settings' clients.

Nothing here names an operation or a scope: a token is made for "the operation's scope" or "every
scope of the contract but the operation's", so an operation with a new scope needs no test edit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from consumers.token import client_with_scopes
from local.issuer import LocalIssuer
from service.contract import Contract, Operation
from service.gateway_events import authorizer_claims

Token = str
# A bad token: its name (the test id) and how to make it from the stage's issuer, a client, scopes.
BadToken = tuple[str, Callable[[LocalIssuer, str, tuple[str, ...]], Token]]


def full_access_client(issuer: LocalIssuer, contract: Contract) -> str:
    """A declared client holding every scope of the contract (settings.yaml has one for the local stage)."""
    return client_with_scopes(issuer.clients, contract.scopes)


def read_only_client(issuer: LocalIssuer, contract: Contract) -> str:
    """A declared client whose scopes are only those of GET operations."""
    read_scopes = {scope for op in contract.operations if op.method == "GET" for scope in op.scopes}
    for name, client in issuer.clients.items():
        if client.scopes and set(client.scopes) <= read_scopes:
            return name
    raise AssertionError("settings.yaml declares no read-only client")


def token(issuer: LocalIssuer, client: str, scopes: tuple[str, ...], **changes: Any) -> Token:
    """A token of `client` with exactly `scopes`, signed by the issuer; `changes` edit its claims."""
    return issuer.sign({**issuer.access_claims(client, scopes), **changes})


def claims(issuer: LocalIssuer, client: str, scopes: tuple[str, ...], **changes: Any) -> dict[str, str]:
    """What a Cognito authorizer hands the function for such a token: its claims, as strings."""
    passed = authorizer_claims(client_id=client, scopes=scopes, issuer=issuer.url)
    return {**passed, **{name: str(value) for name, value in changes.items()}}


def other_scopes(contract: Contract, operation: Operation) -> tuple[str, ...]:
    """Every scope of the contract except the operation's own."""
    return tuple(scope for scope in contract.scopes if scope not in operation.scopes)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: Mapping[str, Any], payload: Mapping[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"


def alg_none(issuer: LocalIssuer, client: str, scopes: tuple[str, ...]) -> Token:
    """The claims with `alg: none` and no signature."""
    return (
        _unsigned({"alg": "none", "typ": "JWT", "kid": issuer.kid}, issuer.access_claims(client, scopes))
        + "."
    )


def hs256_with_public_key(issuer: LocalIssuer, client: str, scopes: tuple[str, ...]) -> Token:
    """The algorithm-confusion attack: HS256 keyed with the issuer's public key (PEM), which anybody has."""
    public = issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned(
        {"alg": "HS256", "typ": "JWT", "kid": issuer.kid}, issuer.access_claims(client, scopes)
    )
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def bad_tokens(stranger: LocalIssuer) -> list[BadToken]:
    """Tokens of a client holding the scopes they are made for, each wrong in one way;
    `stranger` is an issuer that is not the stage's."""
    now = int(time.time())
    return [
        ("other-issuer", lambda _issuer, client, scopes: token(stranger, client, scopes)),
        (
            "issuer-claim-not-ours",
            lambda issuer, client, scopes: token(issuer, client, scopes, iss=stranger.url),
        ),
        (
            "expired",
            lambda issuer, client, scopes: token(issuer, client, scopes, iat=now - 7200, exp=now - 3600),
        ),
        ("alg-none", alg_none),
        ("hs256-public-key", hs256_with_public_key),
        (
            "id-token",
            lambda issuer, client, scopes: token(issuer, client, scopes, token_use="id", aud=client),
        ),
        (
            "unknown-client",
            lambda issuer, _client, scopes: token(issuer, "nobody", scopes, client_id="nobody", sub="nobody"),
        ),
        (
            "no-exp",
            lambda issuer, client, scopes: issuer.sign(_without(issuer.access_claims(client, scopes), "exp")),
        ),
        ("tampered", lambda issuer, client, scopes: _tampered(token(issuer, client, scopes))),
        ("not-a-jwt", lambda _issuer, _client, _scopes: "not.a-jwt"),
    ]


def _without(claims: Mapping[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in claims.items() if key != name}


def _tampered(good: Token) -> Token:
    """The payload changed after signing (a year more to live): the signature no longer matches."""
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 365 * 24 * 3600
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
