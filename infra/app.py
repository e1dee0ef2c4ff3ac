"""CDK entry point (cdk.json: `python -m infra.app`): one stack for the stage given as `-c stage=...`.

Context: `stage` (default $STAGE, else dev), `bytecode` (required | auto | none; default auto),
`emergency` (true: this deploy moves all traffic at once without consulting the alarms; see
docs/deploys.md).
Errors a user can fix (unknown or local stage, no interpreter for the bytecode, a contract the
gateway would refuse) print one line and exit 1, with no traceback.
"""

from __future__ import annotations

import os
import sys
from typing import cast

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.bundle import BYTECODE_MODES, BundleError, BytecodeMode, build_bundle
from infra.config import StageError, load_stage
from infra.contract_lint import UnimportableContract
from infra.stack import UsersApiStack
from service.contract import Contract, ContractError, get_contract
from service.repository import ACCESS, TableAccess


def add_stage(
    app: cdk.App,
    stage: str,
    *,
    bytecode: BytecodeMode = "auto",
    contract: Contract | None = None,
    access: TableAccess = ACCESS,
    emergency: bool = False,
) -> UsersApiStack:
    """Build the bundle and add the stage's stack to `app` (the contract and the repository's
    declared access are parameters so tests can build a stack from a changed copy)."""
    config = load_stage(stage)
    if bytecode not in BYTECODE_MODES:
        raise BundleError(f"bytecode={bytecode!r}: expected one of {', '.join(BYTECODE_MODES)}")
    bundle = build_bundle(config.runtime_version, config.settings.lambda_.architecture, bytecode)
    return UsersApiStack(
        app,
        config=config,
        contract=contract if contract is not None else get_contract(),
        bundle=bundle,
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
        access=access,
        emergency=emergency,
    )


def add_checks(app: cdk.App) -> None:
    """cdk-nag's AwsSolutions pack: an unacknowledged finding fails the synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def main() -> int:
    app = cdk.App()
    stage = str(app.node.try_get_context("stage") or os.environ.get("STAGE") or "dev")
    bytecode = cast(BytecodeMode, str(app.node.try_get_context("bytecode") or "auto"))
    emergency = str(app.node.try_get_context("emergency") or "").lower() in ("1", "true", "yes")
    try:
        add_stage(app, stage, bytecode=bytecode, emergency=emergency)
    except (StageError, BundleError, ContractError, UnimportableContract) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    add_checks(app)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
