"""The generated client against a local stage: what a consumer's code sees, parsed into its models.

Operations are found by operationId in the contract; the parts for listUsers, updateUser and
deleteUser run when the contract has them. Every answer with a body must parse into the model
the contract declares for it, with no property the model does not know.
"""

from __future__ import annotations

import importlib
import json
import re
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import pytest
import yaml

from consumers.client import PACKAGE, GenerationFailed, generate
from consumers.token import full_access_client, local_credentials, request_token
from consumers.tools import CONTRACT
from service.contract import Contract, get_contract
from service.settings import load_clients
from tests.infra.gateway_check import with_two_new_operations

pytestmark = pytest.mark.consumers


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()


def _api(package: ModuleType, contract: Contract, operation_id: str) -> ModuleType:
    """The generated module of an operation: <package>.api.<first tag>.<snake operationId>."""
    operation = contract.operation(operation_id)
    tag = _snake(operation.tags[0]) if operation.tags else "default"
    return importlib.import_module(f"{package.__name__}.api.{tag}.{_snake(operation_id)}")


def _model(package: ModuleType, name: str) -> Any:
    return getattr(importlib.import_module(f"{package.__name__}.models"), name)


def _declared_model(package: ModuleType, contract: Contract, operation_id: str, status: str) -> Any:
    """The generated model of the schema the contract names for this operation's answer."""
    operation = contract.operation(operation_id)
    response = contract.document["paths"][operation.path][operation.method.lower()]["responses"][status]
    if "$ref" in response:  # a shared response: #/components/responses/<name>
        response = contract.document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    (media,) = response["content"].values()
    return _model(package, media["schema"]["$ref"].rsplit("/", 1)[1])


def _parsed(response: Any, model: Any) -> Any:
    """The answer's body as the generated model, holding nothing the model does not declare."""
    assert isinstance(response.parsed, model), (response.status_code, response.content)
    _declared_only(response.parsed, json.loads(response.content))
    return response.parsed


def _declared_only(parsed: Any, body: dict[str, Any]) -> None:
    """Every property of the body is a field of the model (none left over as an extra)."""
    fields = {field.alias or field.name for field in attrs.fields(type(parsed))} - {"additional_properties"}
    assert set(parsed.to_dict()) == set(body), (sorted(parsed.to_dict()), sorted(body))
    assert getattr(parsed, "additional_properties", {}) == {}, parsed.additional_properties
    assert len(body) <= len(fields)


def _authenticated(package: ModuleType, contract: Contract, stage_url: str, api_key: str, client: str) -> Any:
    """The generated client as a consumer sets it up: a token from the stage's token endpoint (the
    client-credentials grant) as its bearer token, and its API key as a header."""
    header = contract.api_key_header
    assert header, "the contract declares no API key header"
    access_token = request_token(local_credentials(client, stage_url))["access_token"]
    return package.AuthenticatedClient(
        base_url=stage_url, token=access_token, headers={header: api_key}, raise_on_unexpected_status=True
    )


@pytest.fixture(scope="module")
def client(client_package: ModuleType, contract: Contract, stage_url: str, api_key: str) -> Iterator[Any]:
    with _authenticated(client_package, contract, stage_url, api_key, full_access_client()) as authenticated:
        yield authenticated


def test_a_client_without_the_scope_gets_a_403_problem_and_without_a_token_a_401(
    client_package: ModuleType, contract: Contract, stage_url: str, api_key: str
) -> None:
    read_scopes = {scope for op in contract.operations if op.method == "GET" for scope in op.scopes}
    reader = next(
        name for name, settings in load_clients("local").items() if set(settings.scopes) <= read_scopes
    )
    with _authenticated(client_package, contract, stage_url, api_key, reader) as read_only:
        new_user = _model(client_package, "NewUser")(
            name="Ada", email=f"ada-{uuid.uuid4().hex[:12]}@example.com"
        )
        refused = _api(client_package, contract, "createUser").sync_detailed(client=read_only, body=new_user)
    assert refused.status_code == 403
    assert _parsed(refused, _declared_model(client_package, contract, "createUser", "403")).status == 403
    header = contract.api_key_header
    assert header is not None
    with client_package.Client(base_url=stage_url, headers={header: api_key}) as anonymous:
        refused = _api(client_package, contract, "getUser").sync_detailed(uuid.uuid4(), client=anonymous)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


def _create(package: ModuleType, contract: Contract, client: Any, name: str = "Ada Lovelace") -> Any:
    new_user = _model(package, "NewUser")(name=name, email=f"ada-{uuid.uuid4().hex[:12]}@example.com")
    return _api(package, contract, "createUser").sync_detailed(client=client, body=new_user)


def test_every_operation_of_the_contract_has_a_generated_function(
    client_package: ModuleType, contract: Contract, generated: tuple[Path, Path]
) -> None:
    _, wheel = generated
    names = set(zipfile.ZipFile(wheel).namelist())
    for operation in contract.operations:
        module = _api(client_package, contract, operation.operation_id)
        for function in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
            assert callable(getattr(module, function)), (operation.operation_id, function)
        assert module.__name__.replace(".", "/") + ".py" in names, f"{module.__name__} is not in {wheel.name}"
    assert f"{client_package.__name__}/py.typed" in names


def test_create_then_read_parse_into_the_user_model(
    client_package: ModuleType, contract: Contract, client: Any
) -> None:
    created = _create(client_package, contract, client)
    assert created.status_code == 201
    user = _parsed(created, _declared_model(client_package, contract, "createUser", "201"))
    assert created.headers["location"].endswith(str(user.user_id))

    read = _api(client_package, contract, "getUser").sync_detailed(user.user_id, client=client)
    assert read.status_code == 200
    assert (
        _parsed(read, _declared_model(client_package, contract, "getUser", "200")).to_dict() == user.to_dict()
    )


def test_an_unknown_user_is_a_404_problem(
    client_package: ModuleType, contract: Contract, client: Any
) -> None:
    answer = _api(client_package, contract, "getUser").sync_detailed(uuid.uuid4(), client=client)
    assert answer.status_code == 404
    problem = _parsed(answer, _declared_model(client_package, contract, "getUser", "404"))
    assert problem.status == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_taken_email_is_a_409_problem(client_package: ModuleType, contract: Contract, client: Any) -> None:
    first = _parsed(_create(client_package, contract, client), _model(client_package, "User"))
    again = _model(client_package, "NewUser")(name="Another Ada", email=first.email.upper())

    answer = _api(client_package, contract, "createUser").sync_detailed(client=client, body=again)

    assert answer.status_code == 409
    assert _parsed(answer, _declared_model(client_package, contract, "createUser", "409")).status == 409


def test_list_pages_newest_first_and_every_page_parses(
    client_package: ModuleType, contract: Contract, client: Any
) -> None:
    user_model = _model(client_package, "User")
    older = _parsed(_create(client_package, contract, client, "Older"), user_model)
    newer = _parsed(_create(client_package, contract, client, "Newer"), user_model)
    list_users = _api(client_package, contract, "listUsers")

    seen: list[str] = []
    cursor: Any = None
    for _ in range(200):  # one user per page, newest first: ours come first unless the walk is broken
        kwargs = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        answer = list_users.sync_detailed(client=client, **kwargs)
        assert answer.status_code == 200
        page = _parsed(answer, _declared_model(client_package, contract, "listUsers", "200"))
        (items,) = [getattr(page, f.name) for f in attrs.fields(type(page)) if f.name == "items"]
        assert len(items) <= 1
        for item in items:
            seen.append(str(_parsed_item(item, user_model).user_id))
        cursor = getattr(page, "next_cursor", None)
        if not isinstance(cursor, str) or {str(newer.user_id), str(older.user_id)} <= set(seen):
            break
    assert len(seen) == len(set(seen)), "a user appeared twice in one walk"
    assert seen.index(str(newer.user_id)) < seen.index(str(older.user_id))


def _parsed_item(item: Any, model: Any) -> Any:
    assert isinstance(item, model)
    return item


def test_update_needs_the_current_etag(client_package: ModuleType, contract: Contract, client: Any) -> None:
    user_model, problem_model = _model(client_package, "User"), _model(client_package, "Problem")
    created = _create(client_package, contract, client)
    user, etag = _parsed(created, user_model), created.headers["etag"]
    update_user = _api(client_package, contract, "updateUser")
    patch = _model(client_package, "UserPatch").from_dict({"name": "Ada King"})

    updated = update_user.sync_detailed(user.user_id, client=client, body=patch, if_match=etag)
    assert updated.status_code == 200, updated.content
    assert _parsed(updated, user_model).name == "Ada King"
    assert updated.headers["etag"] != etag

    stale = update_user.sync_detailed(user.user_id, client=client, body=patch, if_match=etag)
    assert stale.status_code == 412
    assert _parsed(stale, problem_model).status == 412


def test_delete_then_read_is_a_404(client_package: ModuleType, contract: Contract, client: Any) -> None:
    user = _parsed(_create(client_package, contract, client), _model(client_package, "User"))

    deleted = _api(client_package, contract, "deleteUser").sync_detailed(user.user_id, client=client)

    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = _api(client_package, contract, "getUser").sync_detailed(user.user_id, client=client)
    assert gone.status_code == 404
    assert _parsed(gone, _model(client_package, "Problem")).status == 404


def test_operations_added_to_the_contract_get_their_functions(tmp_path: Path) -> None:
    # Given a copy of the contract grown by two operations (tests/integration/test_adding_an_operation.py)
    grown, *added = with_two_new_operations(get_contract())
    contract = tmp_path / "openapi.yaml"
    document = json.loads(json.dumps(grown.document))
    contract.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    # When the client is generated from it (failing on any warning)
    project = generate(tmp_path / "client", contract)

    # Then each added operation has its module, named as for the contract's own operations
    for operation in added:
        tag = _snake(operation.tags[0]) if operation.tags else "default"
        module = project / PACKAGE / "api" / tag / f"{_snake(operation.operation_id)}.py"
        source = module.read_text(encoding="utf-8")
        assert "def sync_detailed(" in source and "def asyncio(" in source, module


def test_generation_fails_on_any_warning(tmp_path: Path) -> None:
    # Given the contract with a body the generator cannot type (it would skip the operation)
    document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    operation = get_contract().operation("getHealth")
    document["paths"][operation.path][operation.method.lower()]["requestBody"] = {
        "content": {"application/xml": {"schema": {"type": "string"}}}
    }
    contract = tmp_path / "openapi.yaml"
    contract.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    # When the client is generated, then it fails, naming the operation and why
    with pytest.raises(GenerationFailed, match=r"(?s)GET /health.*Unsupported content type application/xml"):
        generate(tmp_path / "client", contract)
