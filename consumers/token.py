"""An access token for one of a stage's consumers (what `make token` prints), and the
client-credentials request every tool of the project makes (load tests, schemathesis, checks).

    python -m consumers.token --stage local --client billing [--scope "users-api/users.read"]
    python -m consumers.token --stage local            (the stage's clients: name, then scopes)

A local stage: its own token endpoint (`make run` serves it at the stage's URL, the contract's
relative `tokenUrl`), with the client's local secret from settings.yaml. A stage on AWS: its Cognito
token endpoint and the client's id from the stack's outputs (`make deploy` writes
cdk.out/outputs-<stage>.json), the secret read through AWS (consumers.stage_access); with no
credentials it fails at once with the same message as `make deploy`.
Only the token goes to standard output, so `$(make -s token CLIENT=billing)` is the token.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.settings import ClientSettings

LOCAL_STAGE = "local"
CREDENTIAL_VARIABLES = ("TOKEN_URL", "CLIENT_ID", "CLIENT_SECRET")  # in ClientCredentials' order
DEFAULT_TIMEOUT_SECONDS = 10.0
REFRESH_MARGIN_SECONDS = 60  # get a new token this long before the current one expires


class TokenRequestFailed(RuntimeError):
    """The token endpoint refused (its RFC 6749 error is in the message) or could not be reached."""


@dataclasses.dataclass(frozen=True)
class ClientCredentials:
    """What a consumer needs to get tokens: the token endpoint and its client's id and secret."""

    token_url: str
    client_id: str
    client_secret: str


def request_token(
    credentials: ClientCredentials, scope: str | None = None, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """The token response of a client-credentials grant (RFC 6749 4.4), client authenticated by
    HTTP Basic (as Cognito expects)."""
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    # RFC 6749 2.3.1: the id and the secret are form-encoded, then joined (Cognito's are alphanumeric).
    pair = ":".join(map(urllib.parse.quote_plus, (credentials.client_id, credentials.client_secret)))
    basic = base64.b64encode(pair.encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - the stage's own token endpoint (http or https)
        credentials.token_url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        raise TokenRequestFailed(f"{credentials.token_url}: {error.code} {_oauth_error(error)}") from None
    except (urllib.error.URLError, OSError) as error:
        raise TokenRequestFailed(f"{credentials.token_url}: unreachable ({error})") from None
    if "access_token" not in answer:
        raise TokenRequestFailed(f"{credentials.token_url}: no access_token in the answer")
    return answer


def _oauth_error(error: urllib.error.HTTPError) -> str:
    try:
        body = json.load(error)
        return f"{body.get('error')}: {body.get('error_description', '')}".strip()
    except (ValueError, AttributeError):
        return str(error.reason)


class TokenSource:
    """One consumer's current token: fetched when first needed, fetched again before it expires."""

    def __init__(self, credentials: ClientCredentials, scope: str | None = None) -> None:
        self.credentials = credentials
        self.scope = scope
        self._token = ""
        self._expires_at = 0.0

    def token(self) -> str:
        if time.monotonic() >= self._expires_at - REFRESH_MARGIN_SECONDS:
            answer = request_token(self.credentials, self.scope)
            self._token = str(answer["access_token"])
            self._expires_at = time.monotonic() + float(answer.get("expires_in", 3600))
        return self._token


def client_with_scopes(clients: Mapping[str, ClientSettings], scopes: Iterable[str]) -> str:
    """The first declared client that holds every one of `scopes`."""
    wanted = set(scopes)
    for name, client in clients.items():
        if wanted <= set(client.scopes):
            return name
    held = {scope for client in clients.values() for scope in client.scopes}
    unheld = " ".join(sorted(wanted - held)) or "all of them together"
    raise KeyError(
        f"settings.yaml declares no client with the scopes {' '.join(sorted(wanted))} "
        f"(held by no client: {unheld}; grant them in `clients.<name>.scopes`)"
    )


def full_access_client(stage: str = LOCAL_STAGE) -> str:
    """A client of `stage` holding every scope of the contract (the load test and the fuzzer call
    every operation)."""
    from service.contract import get_contract
    from service.settings import load_clients

    return client_with_scopes(load_clients(stage), get_contract().scopes)


def from_environment(environ: Mapping[str, str] | None = None) -> ClientCredentials | None:
    """TOKEN_URL, CLIENT_ID and CLIENT_SECRET (what `make contract`, `make load` and `make verify`
    set for the tools they run), or None when none is set."""
    environ = os.environ if environ is None else environ
    values = [environ.get(name, "") for name in CREDENTIAL_VARIABLES]
    if not any(values):
        return None
    if not all(values):
        raise ValueError(f"set all of {', '.join(CREDENTIAL_VARIABLES)} (or none)")
    return ClientCredentials(*values)


def credential_variables(credentials: ClientCredentials) -> dict[str, str]:
    return dict(zip(CREDENTIAL_VARIABLES, dataclasses.astuple(credentials), strict=True))


def local_credentials(client: str, base_url: str, stage: str = LOCAL_STAGE) -> ClientCredentials:
    """A local stage's client: its token endpoint is the stage's own (the contract's tokenUrl)."""
    from service.contract import get_contract
    from service.settings import load_clients

    clients = load_clients(stage)
    if client not in clients:
        raise KeyError(f"no client {client!r} in settings.yaml (known: {', '.join(clients)})")
    token_path = get_contract().token_url or "/oauth2/token"
    return ClientCredentials(
        token_url=urllib.parse.urljoin(base_url.rstrip("/") + "/", token_path.lstrip("/")),
        client_id=client,
        client_secret=clients[client].secret,
    )


def client_lines(stage: str) -> list[str]:
    """The stage's clients, one per line: the name, then its scopes."""
    from service.settings import load_clients

    return [f"{name} {' '.join(client.scopes)}" for name, client in load_clients(stage).items()]


def credentials_for(stage: str, client: str, base_url: str) -> ClientCredentials:
    if stage == LOCAL_STAGE:
        return local_credentials(client, base_url, stage)
    from consumers.stage_access import aws_client_credentials

    return aws_client_credentials(stage, client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stage", default=LOCAL_STAGE)
    parser.add_argument(
        "--client", default="", help="the consumer (settings.yaml `clients`); none: list them"
    )
    parser.add_argument("--scope", default="", help="space-separated scopes (default: all the client's)")
    parser.add_argument(
        "--url",
        default=os.environ.get("STAGE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}",
        help="a local stage's base URL (default: make run's)",
    )
    args = parser.parse_args(argv)
    try:
        if not args.client:
            print("\n".join(client_lines(args.stage)))
            return 0
        credentials = credentials_for(args.stage, args.client, args.url)
        print(request_token(credentials, args.scope or None)["access_token"])
    except (KeyError, TokenRequestFailed, RuntimeError, ValueError) as error:  # StageAccessError too
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"make token: {message}", file=sys.stderr)
        return 1
    return 0


def bearer(token: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {token}"}


if __name__ == "__main__":
    sys.exit(main())
