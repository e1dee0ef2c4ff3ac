"""Every operation, every check, every phase of schemathesis.toml, in-process."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis

from tests.contract.conftest import Reset

pytestmark = pytest.mark.contract

schema = schemathesis.pytest.from_fixture("contract_schema")


@schema.parametrize()
def test_operation_conforms_to_the_contract(case: Any, reset_table: Reset) -> None:
    reset_table()
    case.call_and_validate()


def test_create_then_read_chains_conform_to_the_contract(contract_schema: Any, reset_table: Reset) -> None:
    class Workflow(contract_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            reset_table()

    Workflow.run()
