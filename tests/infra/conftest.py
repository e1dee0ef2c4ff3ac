"""Synthesize once per session (jsii makes a synth slow): dev and prod in one app, with cdk.json's flags."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import infra  # noqa: F401  (sets jsii's Node and cache before aws_cdk loads)
from infra.config import cdk_context, deployable_stages, load_stage


@dataclasses.dataclass
class Synth:
    stage: str
    template: Any  # aws_cdk.assertions.Template
    json: dict[str, Any]
    path: Path
    outdir: Path

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.json["Resources"].items() if value["Type"] == kind}

    def one(self, kind: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(kind)
        assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
        return next(iter(found.items()))

    def named(self, kind: str, key: str, value: str) -> tuple[str, dict[str, Any]]:
        """The one resource of `kind` whose property `key` is `value`."""
        found = {k: v for k, v in self.resources(kind).items() if v["Properties"].get(key) == value}
        assert len(found) == 1, f"expected one {kind} with {key}={value!r}, found {sorted(found)}"
        return next(iter(found.items()))

    def function(self) -> tuple[str, dict[str, Any]]:
        """The service's function (the stack also has the deploy's pre-traffic hook)."""
        return self.named("AWS::Lambda::Function", "FunctionName", f"users-api-{self.stage}")

    @property
    def body(self) -> dict[str, Any]:
        _, api = self.one("AWS::ApiGateway::RestApi")
        body: dict[str, Any] = api["Properties"]["Body"]
        return body


def new_app(outdir: Path) -> Any:
    import aws_cdk as cdk

    # cdk.App() outside the CLI does not read cdk.json: pass its feature flags explicitly.
    return cdk.App(context=cdk_context(), outdir=str(outdir))


@pytest.fixture(scope="session")
def synths(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Synth]]:
    from aws_cdk.assertions import Template

    from infra.app import add_checks, add_stage

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir)
    stacks = {stage: add_stage(app, stage) for stage in deployable_stages()}
    add_checks(app)
    app.synth()
    result: dict[str, Synth] = {}
    for stage, stack in stacks.items():
        path = outdir / f"{stack.stack_name}.template.json"
        result[stage] = Synth(
            stage=stage,
            template=Template.from_stack(stack),
            json=json.loads(path.read_text()),
            path=path,
            outdir=outdir,
        )
    yield result


@pytest.fixture(scope="session")
def dev(synths: dict[str, Synth]) -> Synth:
    return synths["dev"]


@pytest.fixture(scope="session")
def prod(synths: dict[str, Synth]) -> Synth:
    return synths["prod"]


@pytest.fixture(params=["dev", "prod"])
def each(request: pytest.FixtureRequest, synths: dict[str, Synth]) -> Synth:
    return synths[str(request.param)]


@pytest.fixture(scope="session")
def settings_of() -> Any:
    return lambda stage: load_stage(stage).settings
