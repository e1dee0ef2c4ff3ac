"""Adding an operation is a contract entry and a handler, nothing else.

A copy of the contract grows two operations (tests/infra/gateway_check.with_two_new_operations):
a DELETE answering 204 on a new path, and a second method (with a merge-patch body) on an existing
path. Their handlers are a new module written to a temporary folder. No other file changes, and
every generic behaviour holds for them: routing, media types, 204 without Content-Type, the API
key and the access token with each one's new scope (401 without, 403 without the scope), 405
listing every method, 413/415, the Lambda path (with and without Content-Length, base64), the
gateway body, IAM derived from the repository, the load scenarios, and schemathesis with every
check and phase (the added PATCH given updateUser's schemathesis.toml entry, as the README says).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from starlette.testclient import TestClient

from loadtest._scenarios import ScenarioError, scenarios
from loadtest._settings import load_run_settings
from local.issuer import LocalIssuer
from service.app import create_asgi_app
from service.contract import Contract, Operation, get_contract
from service.lambda_adapter import adapter_for
from service.repository import ACCESS
from service.settings import Settings
from tests.contract.conftest import CONFIG_FILE, in_process_schema
from tests.infra.gateway_check import gateway_mismatches, with_two_new_operations
from tests.lambda_path.test_every_operation import check_operation_events
from tests.operations import unused_method, valid_request
from tests.problems import assert_problem
from tests.tokens import full_access_client, token

pytestmark = pytest.mark.integration
# Per operation and phase, for the two added operations (the contract's own get more: tests/contract).
ADDED_MAX_EXAMPLES = 40

HANDLERS = '''"""Handlers of the operations a test added to a copy of the contract."""

from service.dependencies import current


def {delete}(probe_id):
    current().users.ping()  # reaches the table through the repository, as any handler would
    return None, 204


def {update}(body):
    current().users.ping()
    return {{"label": body["label"]}}, 200
'''


@pytest.fixture
def grown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Contract, Operation, Operation]]:
    """The grown contract, its handler module importable from a temporary folder."""
    contract, deleted, updated = with_two_new_operations(get_contract())
    module = f"probes_{uuid.uuid4().hex}"
    document = copy.deepcopy(dict(contract.document))
    for operation in (deleted, updated):
        raw = document["paths"][operation.path][operation.method.lower()]
        raw["x-openapi-router-controller"] = module
        for parameter in raw.get("parameters", []):
            # What no link fills needs an example in the contract (the load test sends it).
            examples = {"If-Match": '"v1"', "probeId": str(uuid.uuid4())}
            if parameter["name"] in examples:
                parameter.setdefault("example", examples[parameter["name"]])
    (tmp_path / f"{module}.py").write_text(
        HANDLERS.format(delete=deleted.operation_id, update=updated.operation_id), encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    contract = contract.with_document(document)
    yield contract, contract.operation(deleted.operation_id), contract.operation(updated.operation_id)


def test_two_added_operations_get_every_generic_behaviour(
    grown: tuple[Contract, Operation, Operation], local_settings: Settings, issuer: LocalIssuer
) -> None:
    contract, deleted, updated = grown
    header = contract.api_key_header
    assert header is not None
    consumer = full_access_client(issuer, get_contract())

    def credentials(operation: Operation, scopes: tuple[str, ...] | None = None) -> dict[str, str]:
        """The API key and a token holding `scopes` (default: the operation's own, new scope)."""
        bearer = token(issuer, consumer, operation.scopes if scopes is None else scopes)
        return {header: local_settings.service.api_key, "Authorization": f"Bearer {bearer}"}

    app = create_asgi_app(local_settings, contract=contract)
    with TestClient(app, raise_server_exceptions=False) as client:

        def send(request: Any, **overrides: Any) -> Any:
            return client.request(
                overrides.get("method", request.method),
                request.path,
                headers=overrides.get("headers", request.headers),
                content=overrides.get("body", request.body),
            )

        # Routing, and the media type of each answer from the contract: none for the 204.
        answer = send(valid_request(deleted, credentials=credentials(deleted)))
        assert answer.status_code == 204 and answer.content == b""
        assert "content-type" not in answer.headers
        answer = send(valid_request(updated, credentials=credentials(updated)))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {"label": "x"}

        for operation in (deleted, updated):
            # Auth, from the contract's security: the API key, and a token with the new scope.
            request = valid_request(operation, credentials=credentials(operation))
            no_key = {k: v for k, v in request.headers.items() if k != header}
            problem = send(request, headers=no_key)
            assert_problem(problem.status_code, problem.headers, problem.json(), 401)
            no_token = {k: v for k, v in request.headers.items() if k != "Authorization"}
            problem = send(request, headers=no_token)
            assert_problem(problem.status_code, problem.headers, problem.json(), 401)
            every_other_scope = tuple(get_contract().scopes)
            without_scope = valid_request(operation, credentials=credentials(operation, every_other_scope))
            problem = send(without_scope)
            assert_problem(problem.status_code, problem.headers, problem.json(), 403)
            # 405 lists every method the contract has on the path, the added one included.
            method = unused_method(contract, operation.path)
            assert method is not None
            refused = send(request, method=method)
            assert_problem(refused.status_code, refused.headers, refused.json(), 405)
            allowed = {m.strip() for m in refused.headers["allow"].split(",")}
            assert allowed == set(contract.paths[operation.path]) and operation.method in allowed

        # 413 and 415 on the operation with a body.
        request = valid_request(updated, credentials=credentials(updated))
        too_big = send(request, body=b'{"label": "' + b"x" * local_settings.service.max_body_bytes + b'"}')
        assert_problem(too_big.status_code, too_big.headers, too_big.json(), 413)
        plain = send(request, headers={**request.headers, "Content-Type": "text/plain"})
        assert_problem(plain.status_code, plain.headers, plain.json(), 415)

    # The Lambda path: the same events as for the contract's own operations.
    handler = adapter_for(create_asgi_app(local_settings, contract=contract, inline_handlers=True))
    for operation in (deleted, updated):
        check_operation_events(handler, operation, credentials(operation))


def test_two_added_operations_reach_the_gateway_iam_and_the_load_scenarios(
    grown: tuple[Contract, Operation, Operation],
) -> None:
    from infra.function import table_statement
    from infra.gateway import gateway_body

    contract, deleted, updated = grown
    pool = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_test"
    body = gateway_body(
        contract, function_arn="arn:fn", api_name="users-api-test", retry_after_seconds=1, user_pool_arn=pool
    )
    assert gateway_mismatches(contract, body) == []

    # IAM follows the repository, which the new handlers reach like any other: nothing to add.
    # (A call the repository does not declare never leaves the process: see service.repository.)
    statement = table_statement(ACCESS, "arn:aws:dynamodb:eu-west-1:123456789012:table/t").to_statement_json()
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    assert sorted(actions) == sorted(ACCESS.iam_actions())

    # The load scenarios: the added operations need a weight, and nothing else.
    mix = dict(load_run_settings("local").load.mix)
    for missing in (deleted, updated):
        others = {op.operation_id: 1 for op in (deleted, updated) if op is not missing}
        with pytest.raises(ScenarioError, match=f"load.mix.{missing.operation_id}: missing"):
            scenarios(contract, {**mix, **others})
    planned = scenarios(contract, {**mix, deleted.operation_id: 1, updated.operation_id: 1})
    names = {scenario.operation.operation_id for scenario in planned}
    assert {deleted.operation_id, updated.operation_id} <= names


@pytest.fixture
def grown_schema(
    grown: tuple[Contract, Operation, Operation],
    local_settings: Settings,
    issuer: LocalIssuer,
    tmp_path: Path,
) -> Any:
    """schemathesis on the grown contract as schemathesis.toml configures it (every check, every
    phase), with the API key and a token holding every scope, the added ones included.

    An operation answering what no schema predicts (428 without If-Match) gets its entry in
    schemathesis.toml, as the README's "Adding an operation" says: here, the added PATCH gets
    updateUser's, under its own operationId."""
    contract, deleted, updated = grown
    config = CONFIG_FILE.read_text(encoding="utf-8")
    like = 'include-operation-id = "updateUser"'
    [entry] = [block for block in config.split("[[operations]]")[1:] if like in block]
    config_file = tmp_path / "schemathesis.toml"
    added = entry.replace('"updateUser"', f'"{updated.operation_id}"')
    config_file.write_text(f"{config}\n[[operations]]{added}", encoding="utf-8")
    bearer = token(issuer, full_access_client(issuer, get_contract()), tuple(contract.scopes))
    schema = in_process_schema(contract, local_settings, bearer, ADDED_MAX_EXAMPLES, config_file)
    return schema.include(operation_id=[deleted.operation_id, updated.operation_id])


added_operations = schemathesis.pytest.from_fixture("grown_schema")


@added_operations.parametrize()
def test_the_fuzzer_checks_the_added_operations_like_the_contract_s_own(case: Any) -> None:
    case.call_and_validate()
