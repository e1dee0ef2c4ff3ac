"""schemathesis' hooks in `make verify`'s contract step (SCHEMATHESIS_HOOKS=local.verify_contract_hooks).

After every call, what the answer created (found by the contract's links) is recorded for the step to
delete at its end (local.verify.record_created); outside verify this records nothing.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from local.verify import record_created


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], response: schemathesis.Response
) -> None:
    def header(name: str) -> str | None:
        values = response.headers.get(name.lower())
        return values[0] if values else None

    record_created(case.operation.method, case.operation.path, response.status_code, header, response.content)
