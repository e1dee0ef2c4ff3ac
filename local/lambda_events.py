"""API Gateway REST (v1) proxy events and Lambda contexts shaped like the runtime's.

The event builder lives in service.gateway_events (the pre-traffic hook ships it) and is re-exported
here for the Lambda-path tests and the benchmarks' child processes. Standard library only: the
benchmarks build events before they time a cold start, and importing Powertools (even its typing
module) would load 38 ms of the handler's own imports ahead of the clock. The context is typed as
Powertools' `LambdaContext`; its object is a plain one, as the runtime's own is.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, cast

from service.gateway_events import ACCOUNT, API_ID, api_gateway_event, authorizer_claims

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["ACCOUNT", "API_ID", "RuntimeContext", "api_gateway_event", "authorizer_claims", "lambda_context"]


class RuntimeContext:
    """The attributes and method of the context object the Python runtime passes to a handler."""

    def __init__(self, function_name: str, region: str, memory_mb: int, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def lambda_context(
    function_name: str = "users-api-local",
    region: str = "eu-west-1",
    memory_mb: int = 512,
    timeout_seconds: float = 20.0,  # the deployed stages' lambda.timeout_seconds
) -> LambdaContext:
    """A fresh context, as for one invocation (a new request id, a deadline `timeout_seconds` away)."""
    return cast("LambdaContext", RuntimeContext(function_name, region, memory_mb, timeout_seconds))
