"""How the in-process contract tests authenticate: schemathesis' own auth configuration, holding a
token the stage's token endpoint issued (as `make contract`), not one signed in-process."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from consumers.token import full_access_client
from service.contract import get_contract
from tests.conftest import RecordingIssuer

pytestmark = pytest.mark.contract


def test_schemathesis_sends_a_token_the_stage_token_endpoint_issued(
    contract_schema: Any, issuer: RecordingIssuer
) -> None:
    bearer = contract_schema.config.auth.openapi.schemes["oauth2"].bearer
    assert bearer in issuer.issued
    claims = jwt.decode(bearer, options={"verify_signature": False})
    assert claims["client_id"] == full_access_client()
    assert set(claims["scope"].split()) == set(get_contract().scopes)
