"""cdk-nag (zero unacknowledged findings, every acknowledgment used), cfn-lint, drift, redeploy on change,
and the pinned CDK CLI's own synth."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.config import ROOT, load_stage
from infra.gateway import INTEGRATION
from infra.nag import PACK, acknowledgments
from service.contract import get_contract
from tests.infra.conftest import Synth, new_app
from tests.infra.gateway_check import gateway_mismatches, with_two_new_operations

pytestmark = pytest.mark.infra

# cfn-lint rules ignored on the synthesized templates, each with its reason.
CFN_LINT_IGNORED = {
    # The CDK writes DependsOn on the function's role next to the GetAtt it already has: redundant
    # but harmless, and not ours to change.
    "W3005": "CDK output: DependsOn duplicating a GetAtt on the function's role",
}


def _validation_report(outdir: Path) -> dict[str, object]:
    report: dict[str, object] = json.loads((outdir / "validation-report.json").read_text())
    return report


def test_cdk_nag_reports_no_unacknowledged_finding(synths: dict[str, Synth]) -> None:
    report = _validation_report(next(iter(synths.values())).outdir)
    [pack] = [p for p in report["pluginReports"] if p["pluginName"] == PACK]  # type: ignore[attr-defined]
    assert pack["violations"] == []
    assert pack["conclusion"] == "success"


def _table_id(synth: Synth) -> str:
    table_id, _ = synth.one("AWS::DynamoDB::Table")
    return table_id


def test_every_acknowledgment_matches_a_finding_and_has_a_reason(synths: dict[str, Synth]) -> None:
    report = _validation_report(next(iter(synths.values())).outdir)
    [pack] = [p for p in report["pluginReports"] if p["pluginName"] == PACK]  # type: ignore[attr-defined]
    used = {
        (violation["acknowledgedAt"], violation["acknowledgedId"])
        for violation in pack["suppressedViolations"]
    }
    for stage, synth in synths.items():
        config = load_stage(stage)
        hook_id, _ = synth.named("AWS::Lambda::Function", "FunctionName", f"users-api-deploy-check-{stage}")
        function_id, _ = synth.function()
        for ack in acknowledgments(
            config, table_id=_table_id(synth), function_id=function_id, hook_id=hook_id
        ):
            assert len(ack.reason) > 40, ack
            assert (f"{config.stack_name}/{ack.target}", f"{PACK}::{ack.finding}") in used, ack


def test_an_unacknowledged_finding_fails_the_synth(tmp_path: Path) -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from infra.app import add_checks

    app = new_app(tmp_path)
    stack = cdk.Stack(app, "NagGate")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:*"], resources=["*"]))
    add_checks(app)
    with pytest.raises(Exception, match="AwsSolutions-IAM5"):
        Template.from_stack(stack)


def test_cfn_lint_is_clean_on_every_stage(synths: dict[str, Synth]) -> None:
    paths = [str(synth.path) for synth in synths.values()]
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", *CFN_LINT_IGNORED, "--", *paths],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_added_operations_reach_the_synthesized_gateway_and_redeploy_the_stage(
    tmp_path: Path, dev: Synth
) -> None:
    from aws_cdk.assertions import Template

    from infra.app import add_checks, add_stage

    contract, deleted, updated = with_two_new_operations(get_contract())
    app = new_app(tmp_path)
    stack = add_stage(app, "dev", contract=contract)
    add_checks(app)
    changed = Template.from_stack(stack).to_json()
    [api] = [r for r in changed["Resources"].values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    body = api["Properties"]["Body"]
    assert gateway_mismatches(contract, body) == []
    for operation in (deleted, updated):
        assert body["paths"][operation.path][operation.method.lower()][INTEGRATION]["type"] == "aws_proxy"
    # A new operation under a new scope: the resource server gets the scope, the method its authorizer.
    [new_scope] = set(deleted.scopes) - set(get_contract().scopes)
    [server] = [
        r for r in changed["Resources"].values() if r["Type"] == "AWS::Cognito::UserPoolResourceServer"
    ]
    assert new_scope.rpartition("/")[2] in {scope["ScopeName"] for scope in server["Properties"]["Scopes"]}
    [requirement] = body["paths"][deleted.path][deleted.method.lower()]["security"]
    assert new_scope in [scope for scopes in requirement.values() for scope in scopes]

    def deployments(template: Mapping[str, Any]) -> set[str]:
        return {k for k, v in template["Resources"].items() if v["Type"] == "AWS::ApiGateway::Deployment"}

    before, after = deployments(dev.json), deployments(changed)
    assert len(before) == len(after) == 1
    assert before != after, "a changed body must change the deployment's logical id"

    # The alarms follow the repository's declared calls and the stage, not the list of operations:
    # operations that reach the table as the others do change none of them.
    def alarms(template: Mapping[str, Any]) -> dict[str, Any]:
        resources = template["Resources"].items()
        return {k: v["Properties"] for k, v in resources if v["Type"] == "AWS::CloudWatch::Alarm"}

    assert alarms(changed) == alarms(dev.json) != {}


def test_the_pinned_cdk_cli_synthesizes_with_cdk_json(tmp_path: Path) -> None:
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    assert cli.exists(), "node_modules is not installed: `make test` installs it (npm ci)"
    venv_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CDK_DEFAULT_ACCOUNT"):
        env.pop(name, None)
    started = time.monotonic()
    result = subprocess.run(
        [str(cli), "synth", "-c", "stage=dev", "--quiet", "-o", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out" / "users-api-dev.template.json").exists()
    assert "Traceback" not in result.stderr
    print(f"cdk synth -c stage=dev: {elapsed:.1f}s")
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
