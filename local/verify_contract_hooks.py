"""schemathesis' hooks in `make verify`'s contract step (SCHEMATHESIS_HOOKS=local.verify_contract_hooks).

After every call, what the answer created (found by the contract's links) is recorded for the step to
delete at its end (local.verify.record_created); outside verify this records nothing. Before every
call, a write to a resource the step did not create (local.verify.foreign_write) is sent to one that
does not exist instead: verify runs against stages with real users.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

from local.verify import foreign_write, record_created


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], **_: Any) -> None:
    parameters = case.path_parameters or {}
    if foreign_write(case.operation.method, case.operation.path, parameters):
        case.path_parameters = {name: str(uuid.uuid4()) for name in parameters}


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], response: schemathesis.Response
) -> None:
    def header(name: str) -> str | None:
        values = response.headers.get(name.lower())
        return values[0] if values else None

    record_created(case.operation.method, case.operation.path, response.status_code, header, response.content)
