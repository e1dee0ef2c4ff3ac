"""A local OAuth 2.0 authorization server, laid out like Cognito's, for the local stage and the tests.

    python -m local.issuer --port 9000        (alone; `make run` serves it next to the API)

- `POST /oauth2/token`: the client-credentials grant (`grant_type=client_credentials`, optional
  `scope`: scope tokens separated by single spaces, RFC 6749 3.3). The client authenticates with
  HTTP Basic (`client_id:client_secret`), or with `client_id` and `client_secret` in the form (what
  Swagger UI may send). Errors are RFC 6749's (`invalid_client` 401, `invalid_request`,
  `unsupported_grant_type`, `invalid_scope` 400).
- `GET /.well-known/jwks.json`: the public key, relative to the issuer URL (Cognito's layout:
  `<iss>/.well-known/jwks.json`).

Access tokens are shaped like Cognito's for client credentials: RS256 with a `kid`, and the
claims `sub` and `client_id` (the client's id, here its name in settings.yaml's `clients`),
`token_use: access`, `scope`, `iss`, `iat`, `exp`, `auth_time`, `jti`, `version`. The clients,
their secrets and scopes come from settings.yaml (`clients`, the local stage's secrets) and the
lifetime from `auth.access_token_minutes`. The key is generated when the issuer starts, unless
USERS_API_LOCAL_ISSUER_KEY holds one (PEM): that is how several processes of one stage share it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import ASGIApp, Receive, Scope, Send

from service.contract import get_contract
from service.settings import ClientSettings, load_auth, load_clients

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
JWKS_PATH = "/.well-known/jwks.json"
PATHS = frozenset({TOKEN_PATH, JWKS_PATH})
KEY_ENV = "USERS_API_LOCAL_ISSUER_KEY"
ALGORITHM = "RS256"
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 8192
# RFC 6749 3.3: scope = scope-token *( SP scope-token ), scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


# RFC 6749 5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E ): printable ASCII but `"` and `\`.
DESCRIPTION_CHARACTERS = frozenset(map(chr, [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)]))


class TokenError(Exception):
    """An RFC 6749 (section 5.2) error response. Its description holds only the characters 5.2 allows:
    any other (what a request sent, echoed) is written `?`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        description = "".join(c if c in DESCRIPTION_CHARACTERS else "?" for c in description)
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_to_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def key_from_environment(environ: Mapping[str, str] | None = None) -> rsa.RSAPrivateKey:
    """The stage's key from USERS_API_LOCAL_ISSUER_KEY, else a new one."""
    pem = (os.environ if environ is None else environ).get(KEY_ENV)
    if not pem:
        return generate_key()
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{KEY_ENV}: not an RSA private key")
    return key


class LocalIssuer:
    def __init__(
        self,
        url: str,
        clients: Mapping[str, ClientSettings],
        *,
        token_minutes: int,
        key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.clients = dict(clients)
        self.token_seconds = token_minutes * 60
        self.key = key or generate_key()
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.kid = _thumbprint(public)
        # As Cognito's JWKS writes a key: `use`, and not also `key_ops` (RFC 7517 4.3: not both).
        public.pop("key_ops", None)
        self.public_jwk = {**public, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    @classmethod
    def for_stage(cls, url: str, stage: str = "local", key: rsa.RSAPrivateKey | None = None) -> LocalIssuer:
        """The issuer of `stage`'s clients (settings.yaml), checked against the contract's scopes."""
        clients = load_clients(stage, known_scopes=get_contract().scopes)
        missing = sorted(name for name, client in clients.items() if not client.secret)
        if missing:
            raise ValueError(f"settings.yaml: stage {stage!r} has no local secret for {', '.join(missing)}")
        return cls(url, clients, token_minutes=load_auth(stage).access_token_minutes, key=key)

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def client_ids(self) -> dict[str, str]:
        """Client id -> consumer name (here the id is the name), for the service's `client_ids`."""
        return {name: name for name in self.clients}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Any claims, signed with the issuer's key (the tests make their odd tokens with it)."""
        return jwt.encode(
            dict(claims), self.key, algorithm=ALGORITHM, headers={"kid": self.kid, **(headers or {})}
        )

    def access_claims(
        self, client_id: str, scopes: tuple[str, ...], now: int | None = None
    ) -> dict[str, Any]:
        now = int(time.time()) if now is None else now
        return {
            "sub": client_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": now,
            "iss": self.url,
            "exp": now + self.token_seconds,
            "iat": now,
            "version": 2,
            "jti": str(uuid.uuid4()),
            "client_id": client_id,
        }

    def issue(self, client_id: str, secret: str, requested: str | None = None) -> dict[str, Any]:
        """The token response for a client-credentials grant (RFC 6749 4.4.3), or TokenError."""
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise TokenError("invalid_client", "Client authentication failed.", 401)
        if not requested:  # absent, or sent without a value (RFC 6749 3.2): every scope of the client
            scopes = client.scopes
        elif SCOPE.fullmatch(requested) is None:
            raise TokenError("invalid_scope", "scope must be scope tokens separated by single spaces.")
        else:
            scopes = tuple(dict.fromkeys(requested.split(" ")))
            refused = [scope for scope in scopes if scope not in client.scopes]
            if refused:
                raise TokenError("invalid_scope", f"Not allowed for this client: {' '.join(refused)}.")
        token = self.sign(self.access_claims(client_id, scopes))
        return {"access_token": token, "expires_in": self.token_seconds, "token_type": "Bearer"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The issuer as an ASGI app: the token endpoint and the JWKS."""
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == JWKS_PATH and method in ("GET", "HEAD"):
            await _send_json(send, 200, self.jwks(), {"cache-control": "max-age=300"})
        elif path == TOKEN_PATH and method == "POST":
            try:
                answer = self.issue(*_grant(dict(_headers(scope)), await _read_body(receive)))
            except TokenError as error:
                extra = {"www-authenticate": 'Basic realm="users-api"'} if error.status == 401 else {}
                body = {"error": error.error, "error_description": error.description}
                await _send_json(send, error.status, body, {"cache-control": "no-store", **extra})
            else:
                await _send_json(send, 200, answer, {"cache-control": "no-store", "pragma": "no-cache"})
        elif path in PATHS:
            allow = "GET, HEAD" if path == JWKS_PATH else "POST"
            await _send_json(send, 405, {"error": "method_not_allowed"}, {"allow": allow})
        else:
            await _send_json(send, 404, {"error": "not_found"}, {})


def _grant(headers: Mapping[str, str], body: bytes) -> tuple[str, str, str | None]:
    """(client_id, client_secret, scope) of a client-credentials request, or TokenError."""
    if headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
        raise TokenError("invalid_request", f"The body must be {FORM}.")
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise TokenError("invalid_request", "The body is not UTF-8.") from None
    if any(len(values) > 1 for values in form.values()):
        raise TokenError("invalid_request", "A parameter is repeated.")
    # RFC 6749 3.2: a parameter sent without a value is treated as if omitted from the request.
    fields = {name: values[0] for name, values in form.items() if values[0]}
    if "grant_type" not in fields:
        raise TokenError("invalid_request", "grant_type is missing.")
    if fields["grant_type"] != "client_credentials":
        raise TokenError("unsupported_grant_type", "Only grant_type=client_credentials is supported.")
    authorization = headers.get("authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except ValueError:  # binascii.Error, UnicodeDecodeError, and a non-ASCII str (a byte over 0x7F)
            raise TokenError("invalid_client", "Malformed Basic credentials.", 401) from None
        # RFC 6749 2.3.1: the id and the secret are form-encoded before they are joined.
        client_id, secret = (unquote_plus(part) for part in pair.partition(":")[::2])
        # RFC 6749 2.3: one authentication method a request; a client_id beside it must agree.
        if "client_secret" in fields:
            raise TokenError("invalid_request", "Authenticate the client one way: HTTP Basic or the body.")
        if fields.get("client_id", client_id) != client_id:
            raise TokenError("invalid_request", "client_id is not the client of the Basic credentials.")
    elif "client_id" in fields and "client_secret" in fields:
        client_id, secret = fields["client_id"], fields["client_secret"]
    else:
        raise TokenError("invalid_client", "Authenticate the client (HTTP Basic).", 401)
    return client_id, secret, fields.get("scope")


def _headers(scope: Scope) -> Iterator[tuple[str, str]]:
    for name, value in scope.get("headers", []):
        yield name.decode("latin-1").lower(), value.decode("latin-1")


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if len(body) > MAX_FORM_BYTES:
            raise TokenError("invalid_request", "The body is too large.")
        if not message.get("more_body"):
            return body


async def _send_json(send: Send, status: int, document: Any, headers: Mapping[str, str]) -> None:
    body = json.dumps(document).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    """The key's RFC 7638 thumbprint, as its `kid`."""
    import hashlib

    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def beside(app: ASGIApp, issuer: LocalIssuer) -> ASGIApp:
    """One ASGI app serving the issuer's two paths and `app` for everything else (the local stage:
    the contract's relative `tokenUrl` resolves against the stage's own URL)."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PATHS:
            await issuer(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch


@contextlib.contextmanager
def serving(issuer_for: Any, port: int | None = None) -> Iterator[LocalIssuer]:
    """Serve an issuer on 127.0.0.1 in a thread of this process (tests); `issuer_for(url)` builds it."""
    import uvicorn

    from local.engine import HOST, free_port
    from local.readiness import http_ok, wait_until

    port = port or free_port()
    issuer: LocalIssuer = issuer_for(f"http://{HOST}:{port}")
    server = uvicorn.Server(uvicorn.Config(issuer, host=HOST, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="local-issuer", daemon=True)
    thread.start()
    try:
        wait_until(http_ok(issuer.url + JWKS_PATH), what=f"the local issuer on {issuer.url}", timeout=30)
        yield issuer
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--stage", default="local")
    args = parser.parse_args(argv)
    import uvicorn

    from local.engine import HOST

    issuer = LocalIssuer.for_stage(f"http://{HOST}:{args.port}", args.stage, key_from_environment())
    print(f"local issuer {issuer.url} (token endpoint {issuer.token_url})", flush=True)
    uvicorn.run(issuer, host=HOST, port=args.port, log_level="warning", lifespan="off")
    return 0


if __name__ == "__main__":
    sys.exit(main())
