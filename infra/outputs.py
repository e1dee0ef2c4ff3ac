"""The stack's outputs by name: what the stack writes (infra/stack.py) and what tools read back.

`make deploy` writes them to `cdk.out/outputs-<stage>.json` (`{"users-api-<stage>": {name: value}}`).
The names live here only, so a reader (a consumer's onboarding, `make token` and `make verify` for
an AWS stage) and the stack cannot drift apart. Per-consumer names carry the consumer's name from
settings.yaml in PascalCase (`support-console` -> `ClientIdSupportConsole`), since output names are
alphanumeric.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

API_URL = "ApiUrl"
TOKEN_URL = "TokenUrl"  # noqa: S105 - an output name
USER_POOL_ID = "UserPoolId"
TABLE_NAME = "TableName"
FUNCTION_NAME = "FunctionName"
ALARM_TOPIC_ARN = "AlarmTopicArn"
DASHBOARD_NAME = "DashboardName"
CLIENT_ID_PREFIX = "ClientId"
API_KEY_ID_PREFIX = "ApiKeyId"


class OutputsError(ValueError):
    """The outputs file lacks what the caller needs; the message names it and how to get it."""


def pascal(name: str) -> str:
    """A settings name as the alphanumeric part of an output name: support-console -> SupportConsole."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def client_id_output(client: str) -> str:
    return f"{CLIENT_ID_PREFIX}{pascal(client)}"


def api_key_id_output(client: str) -> str:
    return f"{API_KEY_ID_PREFIX}{pascal(client)}"


@dataclasses.dataclass(frozen=True)
class ConsumerOutputs:
    name: str
    client_id: str
    api_key_id: str


@dataclasses.dataclass(frozen=True)
class StageOutputs:
    """What a consumer (or a tool acting as one) needs to call a deployed stage."""

    api_url: str
    token_url: str
    user_pool_id: str
    consumers: Mapping[str, ConsumerOutputs]

    def consumer(self, name: str) -> ConsumerOutputs:
        if name not in self.consumers:
            raise OutputsError(
                f"no consumer {name!r} in the stage's outputs (known: {', '.join(sorted(self.consumers))})"
            )
        return self.consumers[name]


def outputs_file(stage: str, root: Path) -> Path:
    return root / "cdk.out" / f"outputs-{stage}.json"


def parse_outputs(values: Mapping[str, Any], clients: Iterable[str]) -> StageOutputs:
    """The outputs of one stack (name -> value) for the given consumer names."""
    wanted = [API_URL, TOKEN_URL, USER_POOL_ID]
    for client in clients:
        wanted += [client_id_output(client), api_key_id_output(client)]
    missing = [name for name in wanted if not values.get(name)]
    if missing:
        raise OutputsError(
            f"the stack's outputs lack {', '.join(missing)}: deploy the stage again (make deploy)"
        )
    return StageOutputs(
        api_url=str(values[API_URL]),
        token_url=str(values[TOKEN_URL]),
        user_pool_id=str(values[USER_POOL_ID]),
        consumers={
            client: ConsumerOutputs(
                name=client,
                client_id=str(values[client_id_output(client)]),
                api_key_id=str(values[api_key_id_output(client)]),
            )
            for client in clients
        },
    )


def read_outputs(stage: str, stack_name: str, clients: Iterable[str], root: Path) -> StageOutputs:
    """The stage's outputs as `make deploy` wrote them, or an OutputsError saying how to get them."""
    path = outputs_file(stage, root)
    if not path.exists():
        raise OutputsError(f"{path} does not exist: deploy the stage first (make deploy STAGE={stage})")
    document = json.loads(path.read_text(encoding="utf-8"))
    if stack_name not in document:
        raise OutputsError(f"{path} has no stack {stack_name!r}: deploy the stage again (make deploy)")
    return parse_outputs(document[stack_name], list(clients))
