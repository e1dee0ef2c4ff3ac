"""Serve API Gateway events from a Lambda bundle, in an interpreter that sees nothing else.

    python -S -I bundle_serve.py REQUEST_FILE RESULT_FILE

A script for tests/infra/test_infra_bundle_imports.py, standard library only. REQUEST_FILE is JSON:
`sys_path` (the bundle, then what the Lambda runtime provides, then any layer folder), `module`
and `handler` (the function's handler, as infra names it), and `events` ({"name", "event"}).
`-S -I` leaves the standard library alone on the path (no site-packages, no script directory,
no PYTHON* variables); the request's entries are the only others. RESULT_FILE gets JSON: one
{"name", "status", "body"} per event, every imported module with the file it came from, the
error that stopped the import of the handler, if one did, and the sources attrs compiled while the
handler was imported (an audit hook on `compile`: its code caches make that none but the classes
created after their module's import).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
import uuid
from typing import Any


class Context:
    """The attributes and method of the context object the Python runtime passes to a handler."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bundle-test"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + 10

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(request_file: str, result_file: str) -> None:
    with open(request_file, encoding="utf-8") as handle:
        request: dict[str, Any] = json.load(handle)
    sys.path[:0] = request["sys_path"]
    result: dict[str, Any] = {"responses": [], "import_error": None, "attrs_compiled": []}

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "compile" and str(args[1]).startswith("<attrs generated"):
            result["attrs_compiled"].append(str(args[1]))

    sys.addaudithook(hook)
    try:
        handler = getattr(importlib.import_module(request["module"]), request["handler"])
    except BaseException:
        result["import_error"] = traceback.format_exc()
        handler = None
    compiled_at_import = list(result["attrs_compiled"])
    if handler is not None:
        for item in request["events"]:
            response = handler(item["event"], Context("users-api-bundle-test"))
            result["responses"].append(
                {"name": item["name"], "status": response["statusCode"], "body": response.get("body")}
            )
    result["modules"] = {
        name: getattr(module, "__file__", None) for name, module in sorted(sys.modules.items())
    }
    result["sys_path"] = sys.path
    result["attrs_compiled"] = compiled_at_import
    with open(result_file, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
