"""The authorization matrix of every operation that needs authorization, from the contract.

Each tier subclasses a matrix and gives it a `call` fixture that sends a valid request of an
operation with given headers (and, behind the gateway, given authorizer claims). Nothing names an
operation or a scope: an operation added to the contract, with a scope new to it, is covered the
day it is added.

- `TokenMatrix`: the function verifies tokens itself (a local stage; a handler with a token issuer):
  no token, or any bad one (tests.tokens.bad_tokens), is 401; a valid token without the operation's
  scope is 403; with only that scope the request goes through.
- `ClaimsMatrix`: behind API Gateway the authorizer verified the token and passes its claims: no
  claims is 401, claims of an ID token or of an undeclared client are 401, claims without the
  operation's scope are 403, with only that scope the request goes through.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from local.issuer import LocalIssuer
from service.contract import Operation, get_contract
from tests.problems import assert_answered, assert_problem
from tests.tokens import BadToken, bad_tokens, claims, full_access_client, other_scopes, token

CONTRACT = get_contract()
WITH_AUTH = [operation for operation in CONTRACT.operations if operation.needs_auth]
# (status, lower-cased headers, parsed body) of a request of `operation` with these headers/claims.
Answer = tuple[int, Mapping[str, str], Any]
Call = Callable[[Operation, Mapping[str, str], Mapping[str, Any] | None], Answer]
STRANGER = LocalIssuer("http://127.0.0.1:9/not-our-issuer", {}, token_minutes=60)
BAD_TOKENS = bad_tokens(STRANGER)


def ids(operation: Operation) -> str:
    return operation.operation_id


def headers_with(api_headers: Mapping[str, str], bearer: str | None) -> dict[str, str]:
    """The consumer's API key, with this token (None: no Authorization header at all)."""
    headers = {name: value for name, value in api_headers.items() if name.lower() != "authorization"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return headers


def assert_refused(answer: Answer, status: int) -> None:
    code, headers, body = answer
    assert_problem(code, headers, body, status)
    if status == 401:
        assert headers["www-authenticate"].startswith("Bearer")


def assert_let_through(answer: Answer, operation: Operation) -> None:
    code, _headers, body = answer
    assert_answered(operation, code, body)


@pytest.mark.parametrize("operation", WITH_AUTH, ids=ids)
class TokenMatrix:
    def test_no_token_is_401(self, call: Call, api_headers: dict[str, str], operation: Operation) -> None:
        assert_refused(call(operation, headers_with(api_headers, None), None), 401)

    @pytest.mark.parametrize("bad", BAD_TOKENS, ids=[kind for kind, _ in BAD_TOKENS])
    def test_a_bad_token_is_401(
        self,
        call: Call,
        api_headers: dict[str, str],
        issuer: LocalIssuer,
        operation: Operation,
        bad: BadToken,
    ) -> None:
        _kind, make = bad
        forged = make(issuer, full_access_client(issuer, CONTRACT), operation.scopes)
        assert_refused(call(operation, headers_with(api_headers, forged), None), 401)

    def test_a_valid_token_without_the_operations_scope_is_403(
        self, call: Call, api_headers: dict[str, str], issuer: LocalIssuer, operation: Operation
    ) -> None:
        client = full_access_client(issuer, CONTRACT)
        without = token(issuer, client, other_scopes(CONTRACT, operation))
        answer = call(operation, headers_with(api_headers, without), None)
        assert_refused(answer, 403)
        assert all(scope in answer[2]["detail"] for scope in operation.scopes)

    def test_a_valid_token_with_only_the_operations_scope_goes_through(
        self, call: Call, api_headers: dict[str, str], issuer: LocalIssuer, operation: Operation
    ) -> None:
        only = token(issuer, full_access_client(issuer, CONTRACT), operation.scopes)
        assert_let_through(call(operation, headers_with(api_headers, only), None), operation)


@pytest.mark.parametrize("operation", WITH_AUTH, ids=ids)
class ClaimsMatrix:
    def test_no_claims_is_401(self, call: Call, api_headers: dict[str, str], operation: Operation) -> None:
        assert_refused(call(operation, api_headers, None), 401)

    def test_claims_of_an_id_token_are_401(
        self, call: Call, api_headers: dict[str, str], issuer: LocalIssuer, operation: Operation
    ) -> None:
        client = full_access_client(issuer, CONTRACT)
        id_token = claims(issuer, client, operation.scopes, token_use="id", aud=client)
        assert_refused(call(operation, api_headers, id_token), 401)

    def test_claims_of_an_undeclared_client_are_401(
        self, call: Call, api_headers: dict[str, str], issuer: LocalIssuer, operation: Operation
    ) -> None:
        stranger = claims(issuer, "nobody", operation.scopes, client_id="nobody", sub="nobody")
        assert_refused(call(operation, api_headers, stranger), 401)

    def test_claims_without_the_operations_scope_are_403(
        self, call: Call, api_headers: dict[str, str], issuer: LocalIssuer, operation: Operation
    ) -> None:
        without = claims(issuer, full_access_client(issuer, CONTRACT), other_scopes(CONTRACT, operation))
        assert_refused(call(operation, api_headers, without), 403)

    def test_claims_with_only_the_operations_scope_go_through(
        self, call: Call, api_headers: dict[str, str], issuer: LocalIssuer, operation: Operation
    ) -> None:
        only = claims(issuer, full_access_client(issuer, CONTRACT), operation.scopes)
        assert_let_through(call(operation, api_headers, only), operation)
