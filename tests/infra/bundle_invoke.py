"""A Lambda bundle served one invocation at a time, like a warm execution environment.

    python -S -I bundle_invoke.py REQUEST_FILE RESULT_FD

A script for tests/infra/test_infra_deploy_check.py, standard library only. REQUEST_FILE is JSON:
`sys_path` (the bundle, then what the Lambda runtime provides), `module` and `handler` (as infra
names it). The handler is imported once (a cold start), then each line on stdin is one event; for
each, one JSON line goes to RESULT_FD: {"payload": <what the handler returned>}, or
{"error": {"errorType", "errorMessage"}} when it raised (what Lambda reports as a function error).
Answers go to their own descriptor because the handler logs to stdout.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from typing import Any


class Context:
    """The attributes and method of the context object the Python runtime passes to a handler."""

    def __init__(self, function_name: str, timeout_seconds: float = 10) -> None:
        self.function_name = function_name
        self.function_version = "1"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}:1"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bundle-invoke"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(request_file: str, result_fd: int) -> None:
    with open(request_file, encoding="utf-8") as handle:
        request: dict[str, Any] = json.load(handle)
    sys.path[:0] = request["sys_path"]
    out = os.fdopen(result_fd, "w", encoding="utf-8")
    try:
        handler = getattr(importlib.import_module(request["module"]), request["handler"])
    except BaseException as error:
        handler = None
        import_error = {"errorType": type(error).__name__, "errorMessage": str(error)}
    for line in sys.stdin:
        if not line.strip():
            continue
        event = json.loads(line)
        answer: dict[str, Any]
        if handler is None:
            answer = {"error": import_error}
        else:
            try:
                answer = {"payload": handler(event, Context("users-api-bundle-invoke"))}
            except Exception as error:
                answer = {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
