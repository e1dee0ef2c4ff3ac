"""IAM, alarms and the table follow the repository: what it calls is what it declares, and what it
declares is what infra grants, watches and builds.

The loop: the repository's code (parsed here) calls only what `ACCESS` declares; at run time the
repository refuses undeclared calls (service.repository._refuse_undeclared); infra derives the role's
actions, the alarms' operations and the index grants from `ACCESS`; and every declared operation
maps to an IAM action and a CloudWatch operation the CDK knows (not to names of our own making).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.config import ROOT
from infra.function import table_statement
from infra.monitoring import UnknownOperation, cloudwatch_operation, table_operations
from service import repository
from service.repository import ACCESS, INDEXES, TRANSACTION_ITEM_ACTIONS, TableAccess
from tests.infra.conftest import Synth, new_app

pytestmark = pytest.mark.infra

REPOSITORY_FILE = ROOT / "service" / "repository.py"


def _dynamodb_methods() -> dict[str, str]:
    """botocore's DynamoDB client: python method name -> API operation name."""
    from botocore import xform_name
    from botocore.session import get_session

    model = get_session().get_service_model("dynamodb")
    return {xform_name(name): name for name in model.operation_names}


def _constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "_client"
            and isinstance(node.func.value.value, ast.Name)
            and node.func.value.value.id == "self"
        ):
            yield node


def undeclared_calls(source: str, access: TableAccess) -> list[str]:
    """What the source calls on `self._client` (operations, indexes) or builds in its functions
    (transaction items: a dict key Put/Update/Delete/ConditionCheck) that `access` does not declare."""
    tree = ast.parse(source)
    methods = _dynamodb_methods()
    constants = _constants(tree)
    problems: list[str] = []
    for call in _calls(tree):
        assert isinstance(call.func, ast.Attribute)
        operation = methods.get(call.func.attr)
        if operation is None:
            if call.func.attr not in ("meta", "close", "can_paginate", "get_paginator", "get_waiter"):
                problems.append(f"line {call.lineno}: {call.func.attr} is no DynamoDB operation")
        elif operation not in access.operations:
            problems.append(f"line {call.lineno}: {operation} is not declared")
        for keyword in call.keywords:
            if keyword.arg == "IndexName":
                value = keyword.value
                name = constants.get(value.id) if isinstance(value, ast.Name) else None
                if isinstance(value, ast.Constant):
                    name = str(value.value)
                if name not in access.indexes:
                    problems.append(f"line {call.lineno}: index {name!r} is not declared")
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    for node in (inner for function in functions for inner in ast.walk(function)):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if (
                    isinstance(key, ast.Constant)
                    and key.value in TRANSACTION_ITEM_ACTIONS
                    and key.value not in access.transaction_items
                ):
                    problems.append(f"line {key.lineno}: transaction item {key.value!r} is not declared")
    return problems


def test_the_repository_calls_only_what_it_declares() -> None:
    source = REPOSITORY_FILE.read_text(encoding="utf-8")
    assert list(_calls(ast.parse(source))), "no self._client calls found: the parser no longer sees them"
    assert undeclared_calls(source, ACCESS) == []


def test_an_undeclared_call_index_or_transaction_item_is_found() -> None:
    source = """
USERS = "users-by-creation"
class Repo:
    def all(self):
        self._client.get_item(TableName="t", Key={})
        self._client.scan(TableName="t")
        self._client.query(TableName="t", IndexName=USERS)
        self._client.query(TableName="t", IndexName="by-email")
        self._client.transact_write_items(TransactItems=[{"ConditionCheck": {}}, {"Put": {}}])
"""
    access = TableAccess(
        operations=frozenset({"GetItem", "Query", "TransactWriteItems"}),
        transaction_items=frozenset({"Put"}),
        indexes=frozenset({"users-by-creation"}),
    )
    problems = "\n".join(undeclared_calls(source, access))
    assert "Scan is not declared" in problems
    assert "index 'by-email' is not declared" in problems
    assert "transaction item 'ConditionCheck' is not declared" in problems
    assert "GetItem" not in problems
    assert "users-by-creation" not in problems


def _cdk_dynamodb_actions(tmp_path: Path) -> set[str]:
    """The DynamoDB data actions the CDK itself grants for reading and writing a table."""
    import aws_cdk as cdk
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    stack = cdk.Stack(new_app(tmp_path), "Grants")
    table = dynamodb.Table(
        stack, "T", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    table.grant_read_write_data(iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()))
    actions: set[str] = set()
    for resource in Template.from_stack(stack).to_json()["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions.update([found] if isinstance(found, str) else found)
    return actions


def test_every_declared_call_maps_to_an_iam_action_and_a_cloudwatch_operation_the_cdk_knows(
    tmp_path: Path,
) -> None:
    known = _cdk_dynamodb_actions(tmp_path)
    assert "dynamodb:GetItem" in known
    assert set(ACCESS.iam_actions()) <= known
    assert ACCESS.operations <= set(_dynamodb_methods().values())
    for name in ACCESS.operations:
        cloudwatch_operation(name)  # raises for an operation without CloudWatch metrics
    assert len(table_operations(ACCESS)) == len(ACCESS.operations)
    with pytest.raises(UnknownOperation, match="DescribeTable"):
        cloudwatch_operation("DescribeTable")


def test_the_role_gets_the_indexes_only_when_the_repository_queries_one() -> None:
    table = "arn:aws:dynamodb:eu-west-1:111122223333:table/users"
    plain = TableAccess(operations=frozenset({"GetItem"}))
    statement = table_statement(plain, table).to_json()
    assert statement["Resource"] == table
    assert statement["Action"] == "dynamodb:GetItem"
    indexed = TableAccess(operations=frozenset({"Query"}), indexes=frozenset({"by-date"}))
    assert table_statement(indexed, table).to_json()["Resource"] == [table, f"{table}/index/*"]


def test_every_index_the_repository_queries_is_built_on_the_table(dev: Synth) -> None:
    assert ACCESS.indexes <= set(INDEXES)
    _, table = dev.one("AWS::DynamoDB::Table")
    built = {index["IndexName"] for index in table["Properties"].get("GlobalSecondaryIndexes", [])}
    assert built == set(INDEXES)


def _metric_operations(alarm: dict[str, Any]) -> set[str]:
    text = json.dumps(alarm["Properties"].get("Metrics", []))
    metrics = json.loads(text)
    found: set[str] = set()
    for query in metrics:
        stat = query.get("MetricStat") or {}
        for dimension in (stat.get("Metric") or {}).get("Dimensions", []):
            if dimension["Name"] == "Operation":
                found.add(dimension["Value"])
    return found


@pytest.mark.parametrize("alarm_name", ["table-throttles", "table-system-errors"])
def test_table_alarms_watch_exactly_the_declared_operations(each: Synth, alarm_name: str) -> None:
    [alarm] = [
        alarm
        for alarm in each.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["AlarmName"] == f"users-api-{alarm_name}-{each.stage}"
    ]
    assert _metric_operations(alarm) == set(ACCESS.operations)


def test_the_runtime_guard_refuses_what_is_not_declared() -> None:
    """The other half of the loop, at run time: the repository's botocore hook."""

    class Model:
        name = "Scan"

    with pytest.raises(repository.UndeclaredCall, match="Scan"):
        repository._refuse_undeclared(Model(), {})
