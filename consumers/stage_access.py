"""What a consumer of a deployed stage needs, read from the stack's outputs (`make deploy` writes
them to cdk.out/outputs-<stage>.json) and from AWS (a client's secret, an API key's value).

Every entry point checks AWS credentials first, locally (infra.preflight, as `make deploy` does),
and fails at once with the same one-line message when there are none.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from consumers.token import ClientCredentials

ROOT = Path(__file__).resolve().parent.parent
TOKEN_URL_OUTPUT = "TokenUrl"  # noqa: S105 - an output name
USER_POOL_OUTPUT = "UserPoolId"
API_URL_OUTPUT = "ApiUrl"


class StageAccessError(RuntimeError):
    """The stage cannot be reached from here: no credentials, no outputs, or an unknown client."""


def outputs_file(stage: str) -> Path:
    return ROOT / "cdk.out" / f"outputs-{stage}.json"


def client_output(client: str, what: str) -> str:
    """The output naming a client's id (`what` = "ClientId") or API key id ("ApiKeyId")."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", client) if part) + what


def require_credentials() -> None:
    from infra.preflight import credentials_problem

    problem = credentials_problem()
    if problem:
        raise StageAccessError(problem)


def stack_outputs(stage: str) -> dict[str, str]:
    path = outputs_file(stage)
    if not path.is_file():
        raise StageAccessError(
            f"{path} is missing: `make deploy STAGE={stage}` writes the stack's outputs there"
        )
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if len(document) != 1:
        raise StageAccessError(f"{path}: expected the outputs of one stack, found {len(document)}")
    outputs: dict[str, str] = next(iter(document.values()))
    return outputs


def _output(outputs: dict[str, str], name: str, stage: str) -> str:
    if name not in outputs:
        raise StageAccessError(f"stage {stage}: the stack has no output {name} (deploy it again)")
    return outputs[name]


def _region_of(pool_id: str) -> str:
    return pool_id.split("_", 1)[0]


def aws_client_credentials(stage: str, client: str) -> ClientCredentials:
    """A deployed stage's client: its Cognito token endpoint, id (outputs) and secret (Cognito)."""
    require_credentials()
    outputs = stack_outputs(stage)
    pool_id = _output(outputs, USER_POOL_OUTPUT, stage)
    client_id = _output(outputs, client_output(client, "ClientId"), stage)
    import boto3

    cognito = boto3.client("cognito-idp", region_name=_region_of(pool_id))
    described = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    return ClientCredentials(
        token_url=_output(outputs, TOKEN_URL_OUTPUT, stage),
        client_id=client_id,
        client_secret=described["UserPoolClient"]["ClientSecret"],
    )


def api_url(stage: str) -> str:
    return _output(stack_outputs(stage), API_URL_OUTPUT, stage)


def api_key_value(stage: str, client: str) -> str:
    """The value of a client's API key (API Gateway keeps it; the outputs name its id)."""
    require_credentials()
    outputs = stack_outputs(stage)
    key_id = _output(outputs, client_output(client, "ApiKeyId"), stage)
    import boto3

    region = _region_of(_output(outputs, USER_POOL_OUTPUT, stage))
    value: str = boto3.client("apigateway", region_name=region).get_api_key(apiKey=key_id, includeValue=True)[
        "value"
    ]
    return value
