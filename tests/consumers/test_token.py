"""Getting a token as a consumer does on a local stage: `make token` (consumers.token) and the
Swagger UI's client-credentials flow, both against the token endpoint the stage serves at the
contract's relative `tokenUrl`."""

from __future__ import annotations

import base64
import subprocess
import sys
from urllib.parse import urljoin

import httpx
import pytest

from consumers.token import client_with_scopes
from service.auth import verify_token
from service.contract import Contract
from service.settings import load_clients

pytestmark = pytest.mark.consumers


def make_token(stage_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "consumers.token", "--stage", "local", "--url", stage_url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_make_token_prints_the_token_alone_and_it_holds_the_clients_scopes(stage_url: str) -> None:
    for name, client in load_clients("local").items():
        run = make_token(stage_url, "--client", name)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert len(lines) == 1
        claims = verify_token(lines[0], stage_url, 0)
        assert claims is not None and claims["client_id"] == name
        assert claims["scope"].split() == list(client.scopes)


def test_make_token_narrows_to_the_asked_scope_and_lists_the_clients_without_a_name(stage_url: str) -> None:
    name, client = next((n, c) for n, c in load_clients("local").items() if len(c.scopes) > 1)
    run = make_token(stage_url, "--client", name, "--scope", client.scopes[-1])
    claims = verify_token(run.stdout.strip(), stage_url, 0)
    assert claims is not None and claims["scope"] == client.scopes[-1]

    listed = make_token(stage_url)
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        f"{n} {' '.join(c.scopes)}" for n, c in load_clients("local").items()
    ]


def test_make_token_fails_on_standard_error_only(stage_url: str) -> None:
    run = make_token(stage_url, "--client", "nobody")
    assert run.returncode == 1 and run.stdout == ""
    assert "no client 'nobody'" in run.stderr


def test_the_swagger_ui_flow_resolves_the_relative_token_url_on_the_stage(
    stage_url: str, contract: Contract
) -> None:
    served = httpx.get(f"{stage_url}/openapi.json", timeout=10).json()
    found = contract.oauth2_scheme
    assert found is not None
    flow = served["components"]["securitySchemes"][found[0]]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == contract.token_url and not flow["tokenUrl"].startswith("http")
    # What Swagger UI posts for the client-credentials flow (credentials in the Authorization header).
    name, client = next(iter(load_clients("local").items()))
    basic = base64.b64encode(f"{name}:{client.secret}".encode()).decode()
    answer = httpx.post(
        urljoin(stage_url + "/", flow["tokenUrl"].lstrip("/")),
        data={"grant_type": "client_credentials", "scope": " ".join(client.scopes)},
        headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert httpx.get(f"{stage_url}/ui/", timeout=10).status_code == 200


def test_a_scope_no_client_holds_is_named_with_where_to_grant_it() -> None:
    # Given the local stage's clients and a contract grown by a scope none of them holds
    clients = load_clients("local")
    every = {scope for client in clients.values() for scope in client.scopes}
    grown = every | {"users-api/probes.delete"}

    # Then the client the fuzzer and the load test need is refused, naming that scope and where it goes
    with pytest.raises(KeyError, match=r"held by no client: users-api/probes\.delete; grant them in `"):
        client_with_scopes(clients, grown)
    assert set(clients[client_with_scopes(clients, every)].scopes) == every
