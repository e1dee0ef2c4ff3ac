"""The local stage's OAuth 2.0 issuer (local.issuer), over HTTP as consumers use it: Cognito's layout
(token endpoint, JWKS under the issuer URL), RFC 6749's client-credentials grant and errors, and
tokens the service accepts."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

import httpx
import jwt
import pytest

from consumers.token import ClientCredentials, TokenRequestFailed, request_token
from local.issuer import (
    JWKS_PATH,
    KEY_ENV,
    LocalIssuer,
    TokenError,
    generate_key,
    key_from_environment,
    key_to_pem,
)
from service.auth import verify_token
from service.contract import get_contract

pytestmark = pytest.mark.integration


def _client(issuer: LocalIssuer, *, read_only: bool = False) -> tuple[str, str, tuple[str, ...]]:
    """(name, secret, scopes) of a declared client: the one with most scopes, or with fewest."""
    ordered = sorted(issuer.clients.values(), key=lambda client: len(client.scopes), reverse=not read_only)
    return ordered[0].name, ordered[0].secret, ordered[0].scopes


def _post(issuer: LocalIssuer, form: dict[str, str], auth: tuple[str, str] | None = None, **kw: Any) -> Any:
    return httpx.post(issuer.token_url, data=form, auth=auth, timeout=10, **kw)


def test_a_client_gets_a_cognito_shaped_access_token_the_service_accepts(issuer: LocalIssuer) -> None:
    name, secret, scopes = _client(issuer)
    answer = request_token(ClientCredentials(issuer.token_url, name, secret))

    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == issuer.token_seconds
    header = jwt.get_unverified_header(answer["access_token"])
    assert header["alg"] == "RS256"
    keys = httpx.get(issuer.url + JWKS_PATH, timeout=10).json()["keys"]
    assert [key["kid"] for key in keys] == [header["kid"]]
    claims = verify_token(answer["access_token"], issuer.url, 0)
    assert claims is not None
    assert claims["token_use"] == "access" and claims["client_id"] == claims["sub"] == name
    assert claims["scope"].split() == list(scopes)
    assert claims["iss"] == issuer.url and claims["exp"] - claims["iat"] == issuer.token_seconds
    assert "aud" not in claims


def test_a_client_may_ask_for_fewer_scopes_but_not_for_others(issuer: LocalIssuer) -> None:
    name, secret, scopes = _client(issuer)
    answer = request_token(ClientCredentials(issuer.token_url, name, secret), scopes[0])
    claims = verify_token(answer["access_token"], issuer.url, 0)
    assert claims is not None and claims["scope"] == scopes[0]

    reader, reader_secret, reader_scopes = _client(issuer, read_only=True)
    others = [scope for scope in get_contract().scopes if scope not in reader_scopes]
    refused = _post(issuer, {"grant_type": "client_credentials", "scope": others[0]}, (reader, reader_secret))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"


# RFC 6749 3.3: scope = scope-token *( SP scope-token ), SP being %x20 alone; "{a}" and "{b}" are two
# scopes the client holds.
MALFORMED_SCOPES = {
    "whitespace only": " ",
    "a tab": "{a}\t{b}",
    "two spaces": "{a}  {b}",
    "a leading space": " {a}",
    "a trailing space": "{a} ",
    "a newline": "{a}\n{b}",
    "a no-break space": "{a}\u00a0{b}",
    "a Unicode line separator alone": "\u2028",
}


@pytest.mark.parametrize("case", list(MALFORMED_SCOPES))
def test_only_single_spaces_separate_scopes(issuer: LocalIssuer, case: str) -> None:
    name, secret, (a, b, *_) = _client(issuer)
    scope = MALFORMED_SCOPES[case].format(a=a, b=b)
    refused = _post(issuer, {"grant_type": "client_credentials", "scope": scope}, (name, secret))
    assert refused.status_code == 400, case
    assert refused.json()["error"] == "invalid_scope"


def test_a_scope_sent_without_a_value_is_omitted_and_single_spaces_separate(issuer: LocalIssuer) -> None:
    name, secret, scopes = _client(issuer)

    def granted(scope: str) -> str:
        answer = _post(issuer, {"grant_type": "client_credentials", "scope": scope}, (name, secret))
        assert answer.status_code == 200, scope
        claims = verify_token(answer.json()["access_token"], issuer.url, 0)
        assert claims is not None
        return str(claims["scope"])

    assert granted("") == " ".join(scopes)  # RFC 6749 3.2: as if omitted, so every scope of the client
    assert granted(f"{scopes[1]} {scopes[0]}") == f"{scopes[1]} {scopes[0]}"


# RFC 6749 5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
DESCRIPTION_CHARACTERS = frozenset(map(chr, [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)]))


@pytest.mark.parametrize("scope", ['users-api/"quoted"', "back\\slash", "caf\u00e9", "a\x7fb"], ids=repr)
def test_an_error_description_holds_only_the_characters_rfc_6749_allows(
    issuer: LocalIssuer, scope: str
) -> None:
    reader, reader_secret, _ = _client(issuer, read_only=True)
    refused = _post(issuer, {"grant_type": "client_credentials", "scope": scope}, (reader, reader_secret))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    assert set(refused.json()["error_description"]) <= DESCRIPTION_CHARACTERS

    error = TokenError("invalid_request", f"Anything, {scope}\tor\r\n a control.")
    assert error.description and set(error.description) <= DESCRIPTION_CHARACTERS


# (form, credentials: "client" = the client's own, "wrong" = its id with another secret, None), status, error
TOKEN_ERRORS = {
    "wrong secret": ({"grant_type": "client_credentials"}, "wrong", 401, "invalid_client"),
    "no client authentication": ({"grant_type": "client_credentials"}, None, 401, "invalid_client"),
    "another grant": ({"grant_type": "password"}, "client", 400, "unsupported_grant_type"),
    "no grant": ({"scope": "x"}, "client", 400, "invalid_request"),
    "an empty grant (RFC 6749 3.2: as if omitted)": ({"grant_type": ""}, "client", 400, "invalid_request"),
    "two authentication methods": (
        {"grant_type": "client_credentials", "client_secret": "x"},
        "client",
        400,
        "invalid_request",
    ),
    "another client_id beside Basic": (
        {"grant_type": "client_credentials", "client_id": "someone-else"},
        "client",
        400,
        "invalid_request",
    ),
}


@pytest.mark.parametrize("case", list(TOKEN_ERRORS))
def test_token_errors_are_rfc_6749s(issuer: LocalIssuer, case: str) -> None:
    form, auth, status, error = TOKEN_ERRORS[case]
    name, secret, _ = _client(issuer)
    credentials = {"client": (name, secret), "wrong": (name, "not-the-secret"), None: None}[auth]
    answer = _post(issuer, form, credentials)
    assert answer.status_code == status, case
    assert answer.json()["error"] == error
    assert answer.headers["cache-control"] == "no-store"
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    "credentials",
    [b"Basic !!!!", b"Basic \xe9\xe9\xe9\xe9", b"Basic YWI6Y2\xff=", b"Basic /w==", b"Basic YWJj"],
    ids=["not base64", "a non-ASCII byte", "base64 with a non-ASCII byte", "not UTF-8", "no colon"],
)
def test_malformed_basic_credentials_are_invalid_client_not_an_error(
    issuer: LocalIssuer, credentials: bytes
) -> None:
    """RFC 6749 5.2: client authentication failed is 401 invalid_client, whatever bytes the header holds
    (the header reaches the issuer as latin-1, so a byte over 0x7F is a non-ASCII character)."""
    answer = httpx.post(
        issuer.token_url,
        content=b"grant_type=client_credentials",
        headers={b"Authorization": credentials, b"Content-Type": b"application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == "invalid_client"
    assert answer.headers["www-authenticate"].startswith("Basic")


def test_the_secret_may_come_in_the_form_and_the_body_must_be_a_form(issuer: LocalIssuer) -> None:
    name, secret, _ = _client(issuer)
    posted = _post(issuer, {"grant_type": "client_credentials", "client_id": name, "client_secret": secret})
    assert posted.status_code == 200 and posted.json()["access_token"]

    basic = base64.b64encode(f"{name}:{secret}".encode()).decode()
    as_json = httpx.post(
        issuer.token_url,
        content=json.dumps({"grant_type": "client_credentials"}),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert httpx.get(issuer.token_url, timeout=10).status_code == 405


@pytest.mark.parametrize(
    "blank", [{"client_secret": ""}, {"client_id": ""}, {"client_id": "", "client_secret": ""}], ids=str
)
def test_a_client_parameter_without_a_value_beside_basic_is_omitted(
    issuer: LocalIssuer, blank: dict[str, str]
) -> None:
    """RFC 6749 3.2: a parameter sent without a value is treated as if omitted from the request."""
    name, secret, _ = _client(issuer)
    answer = _post(issuer, {"grant_type": "client_credentials", **blank}, (name, secret))
    assert answer.status_code == 200, answer.text
    claims = verify_token(answer.json()["access_token"], issuer.url, 0)
    assert claims is not None and claims["client_id"] == name


def test_basic_credentials_are_form_decoded_and_may_name_the_client_in_the_body_too() -> None:
    """RFC 6749 2.3.1: a client form-encodes its id and secret before HTTP Basic; Cognito's
    examples also repeat client_id in the body."""
    from local.issuer import _grant
    from service.settings import ClientSettings

    secret = "a+b:c%d é"
    clients = {"odd": ClientSettings("odd", "a client", ("s",), 1.0, 1, 1, secret)}
    odd = LocalIssuer("http://127.0.0.1:9", clients, token_minutes=5)
    encoded = ":".join(urllib.parse.quote_plus(part) for part in ("odd", secret))
    headers = {
        "authorization": "Basic " + base64.b64encode(encoded.encode()).decode(),
        "content-type": "application/x-www-form-urlencoded",
    }
    client_id, given, _ = _grant(headers, b"grant_type=client_credentials&client_id=odd")
    assert (client_id, given) == ("odd", secret)
    assert odd.issue(client_id, given)["access_token"]


def test_the_jwks_writes_its_key_as_cognito_does(issuer: LocalIssuer) -> None:
    [key] = httpx.get(issuer.url + JWKS_PATH, timeout=10).json()["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}  # not `key_ops` beside `use` (RFC 7517 4.3)


def test_a_refused_request_names_the_oauth_error(issuer: LocalIssuer) -> None:
    name, _, _ = _client(issuer)
    with pytest.raises(TokenRequestFailed, match="401 invalid_client"):
        request_token(ClientCredentials(issuer.token_url, name, "not-the-secret"))


def test_processes_of_one_stage_share_the_key_through_the_environment() -> None:
    pem = key_to_pem(generate_key())
    one = LocalIssuer("http://127.0.0.1:1", {}, token_minutes=5, key=key_from_environment({KEY_ENV: pem}))
    two = LocalIssuer("http://127.0.0.1:1", {}, token_minutes=5, key=key_from_environment({KEY_ENV: pem}))
    other = LocalIssuer("http://127.0.0.1:1", {}, token_minutes=5, key=key_from_environment({}))
    assert one.kid == two.kid != other.kid


def test_a_token_whose_issuer_cannot_be_reached_is_refused_not_an_error() -> None:
    unreachable = "http://127.0.0.1:1"  # nothing listens on port 1
    issuer = LocalIssuer(unreachable, {}, token_minutes=5)
    assert verify_token(issuer.sign(issuer.access_claims("c", ("s",))), unreachable, 0) is None
