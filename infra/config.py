"""One stage's configuration for infra: its settings.yaml sections (infra.settings) plus naming rules.

Every named resource carries the stage suffix so several stages live in one account.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra.settings import LOCAL_ONLY_STAGES, InfraSettings, load_infra_settings
from service import SERVICE_NAME
from service.contract import get_contract
from service.observability import NAMESPACE
from service.settings import SettingsError, as_flat_service_parameters, stages

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = ROOT / "cdk.json"
PROJECT = "users-api"
# LOCAL_ONLY_STAGES (infra.settings): stages that only exist on a developer's machine (`make run`);
# infra refuses to build them.
# Service settings that never go into plain SSM parameters: a secret, and what infra sets in the
# function's environment from the resources it creates (the environment wins over SSM).
SECRET_KEYS = frozenset({"api_key"})
ENVIRONMENT_KEYS = frozenset({"client_ids"})
# The names the service's logs and metrics carry (service.observability): the function's
# Powertools environment and the dashboard use the same.
POWERTOOLS_SERVICE_NAME = SERVICE_NAME
METRICS_NAMESPACE = NAMESPACE


class StageError(ValueError):
    """The stage cannot be built by infra; the message is one line for the user."""


def deployable_stages() -> list[str]:
    return [name for name in stages() if name not in LOCAL_ONLY_STAGES]


def api_name(title: str, stage: str) -> str:
    """The REST API's name: the contract's title plus the stage (CloudWatch keys API metrics on it)."""
    return f"{title}-{stage}"


@dataclasses.dataclass(frozen=True)
class StageConfig:
    stage: str
    settings: InfraSettings

    @property
    def base_name(self) -> str:
        """users-api-<stage>: the stack's and the function's name."""
        return f"{PROJECT}-{self.stage}"

    @property
    def stack_name(self) -> str:
        return self.base_name

    @property
    def api_name(self) -> str:
        return api_name(get_contract().title, self.stage)

    @property
    def ssm_path(self) -> str:
        return f"/{PROJECT}/{self.stage}"

    @property
    def region(self) -> str:
        # The function talks to DynamoDB in this region (settings), so the stack lives there too.
        return self.settings.service.dynamodb_region

    @property
    def runtime_version(self) -> str:
        """ "3.13" for "python3.13"."""
        return self.settings.lambda_.runtime.removeprefix("python")

    @property
    def is_dev(self) -> bool:
        return self.stage == "dev"

    def name(self, what: str) -> str:
        """A physical name with the project prefix and the stage suffix, e.g. users-api-alarms-dev."""
        return f"{PROJECT}-{what}-{self.stage}"

    def ssm_parameters(self) -> dict[str, str]:
        """The service settings written to SSM: no secrets, no empty values (SSM rejects them)."""
        return {
            key: value
            for key, value in as_flat_service_parameters(self.settings.service).items()
            if value != "" and key not in SECRET_KEYS | ENVIRONMENT_KEYS
        }


def load_stage(stage: str, document: Mapping[str, Any] | None = None) -> StageConfig:
    """The stage's configuration (from settings.yaml, or `document`), or a StageError with a one-line
    reason."""
    if stage in LOCAL_ONLY_STAGES:
        raise StageError(
            f"stage {stage!r} is the local-only stage (make run); deployable stages: "
            f"{', '.join(deployable_stages())}"
        )
    try:
        settings = load_infra_settings(stage, document)
    except SettingsError as error:
        raise StageError(str(error)) from None
    if settings.service.dynamodb_endpoint:
        raise StageError(f"setting service.dynamodb_endpoint must be empty for the AWS stage {stage!r}")
    if settings.service.token_issuer:
        raise StageError(
            f"setting service.token_issuer must be empty for the AWS stage {stage!r} (the gateway's "
            "Cognito authorizer verifies tokens; the function reads the verified claims)"
        )
    for name, client in settings.clients.items():
        if client.secret:
            raise StageError(
                f"setting clients.{name}.secret must be empty for the AWS stage {stage!r} "
                "(Cognito generates each client's secret; never write one into settings.yaml)"
            )
    return StageConfig(stage=stage, settings=settings)


def cdk_context() -> dict[str, Any]:
    """cdk.json's context (feature flags), for apps built outside the CLI (tests)."""
    with CDK_JSON.open(encoding="utf-8") as handle:
        document = json.load(handle)
    return dict(document.get("context", {}))
