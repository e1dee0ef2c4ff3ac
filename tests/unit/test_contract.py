"""The contract is a valid OpenAPI 3.0 document and names a handler for each operation."""

from __future__ import annotations

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from service.app import _snake
from service.contract import CONTRACT_FILE, load_contract, operation_paths, operations
from service.handlers.users import UserHandlers

ERROR_STATUSES = {"400", "404", "500", "503"}


def test_contract_is_valid_openapi_3_0() -> None:
    spec, _ = read_from_filename(str(CONTRACT_FILE))
    validate(spec)
    assert str(spec["openapi"]).startswith("3.0.")


def test_every_operation_has_a_handler() -> None:
    for operation_id in operation_paths(load_contract()):
        assert callable(getattr(UserHandlers, _snake(operation_id)))


def test_every_operation_declares_its_errors_as_problem_json() -> None:
    contract = load_contract()
    for method, path, operation in operations(contract):
        statuses = set(operation["responses"])
        assert statuses >= ERROR_STATUSES, (method, path, ERROR_STATUSES - statuses)
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                name = response["$ref"].rsplit("/", 1)[-1]
                content = contract["components"]["responses"][name]["content"]
                assert list(content) == ["application/problem+json"], (path, status)


def test_create_user_declares_conflict_size_and_media_type_errors_and_links_to_get_user() -> None:
    create = load_contract()["paths"]["/users"]["post"]
    assert {"409", "413", "415"} <= set(create["responses"])
    created = create["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["links"]["GetCreatedUser"]["operationId"] == "getUser"
