"""The environment a stage's function runs in on AWS (as infra.function sets it), pointed at a local
engine: what the tests that serve events from a built bundle give its interpreter."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from infra.config import load_stage
from local.engine import Engine, free_port
from local.stage import LOCAL_CREDENTIALS

REGION = "eu-west-1"


def function_environment(
    stage: str, engine: Engine, table: str, client_ids: Mapping[str, str], **extra: str
) -> dict[str, str]:
    """`client_ids`: what infra sets from the Cognito clients (client id -> consumer name)."""
    config = load_stage(stage)
    return {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        **LOCAL_CREDENTIALS,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": config.base_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.settings.lambda_.memory_mb),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.settings.lambda_.runtime}",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{free_port()}",  # segments go nowhere
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000001;Parent=0000000000000001;Sampled=1",
        "DYNAMODB_ENDPOINT": engine.endpoint,
        # What infra.function sets:
        "STAGE": stage,
        "TABLE_NAME": table,
        "POWERTOOLS_SERVICE_NAME": "users-api",
        "POWERTOOLS_METRICS_NAMESPACE": "UsersApi",
        "POWERTOOLS_LOG_LEVEL": config.settings.service.log_level,
        "USERS_API_CLIENT_IDS": json.dumps(dict(client_ids)),
        **extra,
    }
