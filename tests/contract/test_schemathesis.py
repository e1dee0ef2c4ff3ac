"""Every operation, every check, every phase of schemathesis.toml, in-process; the table's
invariants (local.invariants) are checked after every example and every stateful scenario."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis

from local.invariants import violations
from service.repository import make_client
from service.settings import Settings
from tests.contract.conftest import Reset

pytestmark = pytest.mark.contract

schema = schemathesis.pytest.from_fixture("contract_schema")


@pytest.fixture(scope="session")
def assert_consistent(contract_settings: Settings) -> Callable[[], None]:
    client = make_client(contract_settings.service)

    def check() -> None:
        assert violations(client, contract_settings.service.table_name) == []

    return check


@schema.parametrize()
def test_operation_conforms_to_the_contract(
    case: Any, reset_table: Reset, assert_consistent: Callable[[], None]
) -> None:
    reset_table()
    case.call_and_validate()
    assert_consistent()


def test_linked_operations_conform_to_the_contract(
    contract_schema: Any, reset_table: Reset, assert_consistent: Callable[[], None]
) -> None:
    """The stateful phase: createUser's links lead to getUser, updateUser (with the ETag) and
    deleteUser, so update-after-create and use-after-delete are exercised."""

    class Workflow(contract_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            reset_table()

        def teardown(self) -> None:
            assert_consistent()

    Workflow.run()
