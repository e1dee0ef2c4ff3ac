"""What a consumer of a deployed stage needs, read from the stack's outputs (`make deploy` writes
them to cdk.out/outputs-<stage>.json; their names are infra.outputs') and from AWS: a client's
secret (Cognito) and an API key's value (API Gateway).

Every entry point checks AWS credentials first, locally (infra.preflight, as `make deploy` does),
and fails at once with the same one-line message when there are none. What AWS answers with an error
afterwards (an expired SSO session, AccessDenied, a pool or key that no longer exists) is a
StageAccessError too, naming the stage and what was being read; never a value read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from consumers.token import ClientCredentials

if TYPE_CHECKING:
    from infra.outputs import ConsumerOutputs, StageOutputs

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


class StageAccessError(RuntimeError):
    """The stage cannot be reached from here: no credentials, no outputs, or an unknown client."""


def require_credentials() -> None:
    from infra.preflight import credentials_problem

    problem = credentials_problem()
    if problem:
        raise StageAccessError(problem)


def stage_outputs(stage: str) -> StageOutputs:
    from infra.config import load_stage
    from infra.outputs import OutputsError, read_outputs
    from service.settings import load_clients

    try:
        return read_outputs(stage, load_stage(stage).stack_name, load_clients(stage), ROOT)
    except OutputsError as error:
        raise StageAccessError(str(error)) from None


def _region(outputs: StageOutputs) -> str:
    return outputs.user_pool_id.split("_", 1)[0]  # a pool id is <region>_<id>


def _from_aws(stage: str, what: str, service: str, region: str, call: Callable[[Any], T]) -> T:
    """`call` on a boto3 client of `service`; an error from botocore (credentials, the answer) becomes
    a StageAccessError naming the stage and `what` was being read. botocore's messages carry the
    operation, the error code and AWS's reason, never a value the call would have returned."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call(boto3.client(service, region_name=region))  # type: ignore[call-overload]
    except (BotoCoreError, ClientError) as error:
        reason = " ".join(str(error).split())
        raise StageAccessError(f"stage {stage!r}: cannot read {what} from AWS: {reason}") from None


def aws_client_credentials(stage: str, client: str) -> ClientCredentials:
    """A deployed stage's client: its Cognito token endpoint and id (outputs), its secret (Cognito)."""
    require_credentials()
    outputs = stage_outputs(stage)
    client_id = _consumer(outputs, client).client_id
    pool = outputs.user_pool_id
    described = _from_aws(
        stage,
        f"the secret of client {client!r} (Cognito user pool {pool})",
        "cognito-idp",
        _region(outputs),
        lambda cognito: cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client_id),
    )
    return ClientCredentials(outputs.token_url, client_id, described["UserPoolClient"]["ClientSecret"])


def api_url(stage: str) -> str:
    return stage_outputs(stage).api_url


def api_key_value(stage: str, client: str) -> str:
    """The value of a client's API key (API Gateway keeps it; the outputs name its id)."""
    require_credentials()
    outputs = stage_outputs(stage)
    key_id = _consumer(outputs, client).api_key_id
    answer = _from_aws(
        stage,
        f"API key {key_id} of client {client!r} (API Gateway)",
        "apigateway",
        _region(outputs),
        lambda gateway: gateway.get_api_key(apiKey=key_id, includeValue=True),
    )
    return str(answer["value"])


def _consumer(outputs: StageOutputs, client: str) -> ConsumerOutputs:
    from infra.outputs import OutputsError

    try:
        return outputs.consumer(client)
    except OutputsError as error:
        raise StageAccessError(str(error)) from None
