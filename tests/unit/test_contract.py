"""The contract is a valid OpenAPI 3.0 document and names a handler for each operation."""

from __future__ import annotations

import importlib

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

from service.contract import CONTRACT_FILE, get_contract

ERROR_STATUSES = {"400", "404", "500", "503"}


def test_contract_is_valid_openapi_3_0() -> None:
    spec, _ = read_from_filename(str(CONTRACT_FILE))
    validate(spec)
    assert str(spec["openapi"]).startswith("3.0.")


def test_every_operation_names_its_handler_module_and_the_function_exists() -> None:
    for operation in get_contract().operations:
        assert operation.controller, f"{operation.operation_id}: no x-openapi-router-controller"
        module = importlib.import_module(operation.controller)
        assert callable(getattr(module, operation.operation_id)), operation.handler


def test_every_operation_declares_its_errors_as_problem_json() -> None:
    for operation in get_contract().operations:
        statuses = set(operation.responses)
        assert statuses >= ERROR_STATUSES, (operation.operation_id, ERROR_STATUSES - statuses)
        for status, response in operation.responses.items():
            if status.startswith(("4", "5")):
                assert response.media_types == ("application/problem+json",), (operation.operation_id, status)


def test_create_user_declares_conflict_size_and_media_type_errors_and_links_to_get_user() -> None:
    create = get_contract().operation("createUser")
    assert {"409", "413", "415"} <= set(create.responses)
    created = create.responses["201"]
    assert "Location" in created.headers
    assert "getUser" in {link.operation_id for link in created.links}
