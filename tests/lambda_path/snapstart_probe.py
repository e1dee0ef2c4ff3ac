"""Init, snapshot and three restores of the Lambda function, in one interpreter, as the runtime does.

    python snapstart_probe.py RESULT_FILE

A script for tests/lambda_path/test_snapstart.py. It imports the handler (init, settings read from
SSM), runs the before-snapshot hooks as the managed runtime does (snapshot_restore_py's registry,
last registered first), then changes an SSM parameter and waits past the SSM cache's age, as the
world moves on while a snapshot waits. Each restore is a fork of that process (the same memory:
the same random state, the same objects), which runs the after-restore hooks in registration
order and then serves two events. The function reaches SSM through a port of this process that
forwards to the engine; before the third restore that port is closed: SSM is unreachable.
RESULT_FILE gets, per restore, what the test checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from local.lambda_events import api_gateway_event, authorizer_claims, lambda_context

PROBE_CLIENT = (
    "snapstart-probe"  # the client USERS_API_CLIENT_IDS declares (tests/lambda_path/test_snapstart.py)
)
ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_probe"


class Forwarder:
    """A port of 127.0.0.1 that forwards each connection to `target`, until `close`: then nothing
    listens there and a connection is refused, as when an endpoint is unreachable."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()


def pools(client: Any) -> list[int]:
    """The connection pools a botocore client holds (urllib3's pool manager), by identity."""
    manager = client._endpoint.http_session._manager
    return sorted(id(manager.pools[key]) for key in manager.pools.keys())  # noqa: SIM118 - no __iter__


def call_dynamodb(client: Any) -> None:
    """A call the function may make (a GetItem), over one of the client's pooled connections; the
    answer does not matter (the stage's table need not exist in the engine)."""
    from botocore.exceptions import ClientError

    from service.settings import get_settings

    with contextlib.suppress(ClientError):
        client.get_item(
            TableName=get_settings().service.table_name, Key={"pk": {"S": "probe"}, "sk": {"S": "probe"}}
        )


def run_hooks(registry: list[Any], *, reverse: bool) -> None:
    """What the managed runtime does with snapshot_restore_py's registry."""
    while reverse and registry:
        func, args, kwargs = registry.pop()
        func(*args, **kwargs)
    for func, args, kwargs in [] if reverse else registry:
        func(*args, **kwargs)


def main(result_file: str) -> None:
    engine_ssm = os.environ["AWS_ENDPOINT_URL_SSM"]
    forwarder = Forwarder(engine_ssm)
    os.environ["AWS_ENDPOINT_URL_SSM"] = forwarder.url  # the function's SSM client is made at init

    import snapshot_restore_py

    import service.lambda_handler as function
    from service.contract import get_contract
    from service.settings import get_settings, ssm_provider

    ssm_client = ssm_provider().client
    dynamodb = function._function.client
    call_dynamodb(dynamodb)  # a connection init opened
    init: dict[str, Any] = {"max_body_bytes": get_settings().service.max_body_bytes}
    init["ssm_pools_after_init"] = len(pools(ssm_client))
    init["dynamodb_pools_after_init"] = len(pools(dynamodb))
    run_hooks(snapshot_restore_py.get_before_snapshot(), reverse=True)
    init["ssm_pools_after_before_snapshot"] = len(pools(ssm_client))
    init["dynamodb_pools_after_before_snapshot"] = len(pools(dynamodb))
    path = os.environ["USERS_API_SSM_PATH"]
    ssm_client.get_parameter(Name=f"{path}/log_level")  # connections the snapshot would hold
    call_dynamodb(dynamodb)
    in_snapshot = pools(ssm_client)
    dynamodb_in_snapshot = pools(dynamodb)
    ssm = boto3.client("ssm", endpoint_url=engine_ssm)
    ssm.put_parameter(Name=f"{path}/max_body_bytes", Value="4096", Type="String", Overwrite=True)
    time.sleep(float(os.environ["USERS_API_SSM_MAX_AGE_SECONDS"]) + 0.5)
    snapshot_random = random.getstate()
    restores = []
    for number in (1, 2, 3):
        if number == 3:
            forwarder.close()  # SSM is unreachable from now on
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # a restored environment
            os.close(read)
            started = time.monotonic()
            run_hooks(snapshot_restore_py.get_after_restore(), reverse=False)
            hooks_seconds = time.monotonic() - started
            dynamodb_pools_after_hooks = len(pools(dynamodb))
            big = json.dumps({"name": "Ada", "email": "ada@example.com", "bio": "x" * 5000})
            headers = {
                "Content-Type": "application/json",
                "x-api-key": "passed-by-the-gateway",
                "Authorization": "Bearer verified-by-the-gateway",
            }
            # What the gateway's authorizer passes for a token of the client USERS_API_CLIENT_IDS names.
            claims = authorizer_claims(
                client_id=PROBE_CLIENT, scopes=get_contract().operation("createUser").scopes, issuer=ISSUER
            )
            event = api_gateway_event(
                "POST", "/users", resource="/users", body=big, headers=headers, claims=claims
            )
            statuses = []
            for request in (1, 2):
                context: Any = lambda_context("users-api-snapstart")
                context.aws_request_id = f"restore-{number}-{request}"
                statuses.append(function.handler(event, context)["statusCode"])
            sys.stdout.flush()
            result = {
                "hooks_seconds": hooks_seconds,
                "random": random.random(),
                "random_state_was_the_snapshots": random.getstate() == snapshot_random,
                "max_body_bytes": get_settings().service.max_body_bytes,
                "serving_max_body_bytes": function._function.settings.service.max_body_bytes,
                "statuses": statuses,
                "snapshot_pools_kept": sorted(set(in_snapshot) & set(pools(ssm_client))),
                "ssm_client_pools": len(pools(ssm_client)),
                "snapshot_dynamodb_pools_after_hooks": dynamodb_pools_after_hooks,
                # The client the function holds now: the snapshot's, or a rebuilt function's.
                "dynamodb_snapshot_pools_kept": sorted(
                    set(dynamodb_in_snapshot) & set(pools(function._function.client))
                ),
            }
            os.write(write, json.dumps(result).encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as handle:
            restores.append(json.loads(handle.read()))
        os.waitpid(pid, 0)
    Path(result_file).write_text(json.dumps({"init": init, "restores": restores}), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
