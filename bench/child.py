"""What runs in each fresh benchmark process (a script, not imported by the service).

    python [-S -B] child.py cold MODULE RESULT_FILE USER_ID
    python [-S -B] child.py serve MODULE RESULT_FD

MODULE is `service.lambda_handler` (ours) or `baseline_handler` (this directory's). The parent
puts the bundle (and a directory standing for the Lambda runtime's boto3) first on the path
through BENCH_SYS_PATH, and sets the environment as Lambda would.

cold:  time from before the handler module's import to the end of its first invocation
       (a GET /users/{id}), what a Lambda cold start adds before the first response; wall
       clock and this process's CPU time.
auth:  what authorization adds, in one process (bench/auth_pairs.py): `auth RESULT_FILE ROUNDS
       PAIRS WARMUP`.
serve: import once, then obey lines on stdin: `run N` (N POST + N GET invocations, each timed
       alone), `rss` (peak resident set size), `quit`. Answers are JSON lines on RESULT_FD.
"""

from __future__ import annotations

import os
import sys

sys.path[:0] = [entry for entry in os.environ.get("BENCH_SYS_PATH", "").split(os.pathsep) if entry]
# The repository root last, for local.lambda_events (standard library only): never ahead of the bundle.
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import importlib  # noqa: E402 - after the path is set, like everything below
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

from local.lambda_events import api_gateway_event, lambda_context  # noqa: E402

API_KEY = os.environ.get("BENCH_API_KEY", "")
# What API Gateway's authorizer passes with each event (a client with every scope), set by the runner.
CLAIMS = json.loads(os.environ.get("BENCH_CLAIMS", "{}"))
AUTH = {"x-api-key": API_KEY, "Authorization": "Bearer verified-by-the-gateway"}
# Path templates of createUser and getUser, read from the contract by the runner.
CREATE_PATH = os.environ.get("BENCH_CREATE_PATH", "")
GET_PATH = os.environ.get("BENCH_GET_PATH", "")


def get_event(user_id: str) -> dict[str, Any]:
    return api_gateway_event(
        "GET",
        GET_PATH.format(userId=user_id),
        resource=GET_PATH,
        path_parameters={"userId": user_id},
        headers=AUTH,
        stage="bench",
        claims=CLAIMS,
    )


def post_event() -> dict[str, Any]:
    body = json.dumps({"name": "Ada Lovelace", "email": f"bench-{uuid.uuid4().hex[:16]}@example.com"})
    return api_gateway_event(
        "POST",
        CREATE_PATH,
        resource=CREATE_PATH,
        body=body,
        headers={**AUTH, "Content-Type": "application/json"},
        stage="bench",
        claims=CLAIMS,
    )


def new_invocation() -> Any:
    """What the runtime does before each invocation: a request id and an X-Ray trace header."""
    os.environ["_X_AMZN_TRACE_ID"] = (
        f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=1"
    )
    return lambda_context("users-api-bench", region="us-east-1")


def cold(module_name: str, result_file: str, user_id: str) -> None:
    event = get_event(user_id)
    context = new_invocation()
    started, cpu_started = time.perf_counter(), time.process_time()
    module = importlib.import_module(module_name)
    imported = time.perf_counter()
    response = module.handler(event, context)
    done, cpu_done = time.perf_counter(), time.process_time()
    result = {
        "init_ms": (imported - started) * 1000,
        "first_ms": (done - imported) * 1000,
        "total_ms": (done - started) * 1000,
        # This process's CPU time over the same span: what a machine busy with other work moves least.
        "cpu_ms": (cpu_done - cpu_started) * 1000,
        "status": response["statusCode"],
        "modules": len(sys.modules),
    }
    with open(result_file, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def peak_rss_kib() -> int:
    """This process's own peak RSS. Not ru_maxrss: Linux carries the forking parent's peak over
    fork and exec into it, so a child smaller than the bench runner would report the runner's."""
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def serve(module_name: str, result_fd: int) -> None:
    handler = importlib.import_module(module_name).handler
    user_id = os.environ["BENCH_USER_ID"]
    with os.fdopen(result_fd, "w", encoding="utf-8", buffering=1) as out:
        for line in sys.stdin:
            command, *args = line.split()
            if command == "run":
                timings: dict[str, list[float]] = {"POST": [], "GET": []}
                statuses: set[int] = set()
                for _ in range(int(args[0])):
                    for method, event in (("POST", post_event()), ("GET", get_event(user_id))):
                        context = new_invocation()
                        started = time.perf_counter_ns()
                        response = handler(event, context)
                        timings[method].append((time.perf_counter_ns() - started) / 1e6)
                        statuses.add(response["statusCode"])
                out.write(json.dumps({"timings": timings, "statuses": sorted(statuses)}) + "\n")
            elif command == "rss":
                out.write(json.dumps({"peak_rss_mib": peak_rss_kib() / 1024}) + "\n")
            else:
                return


class Events:
    """The API Gateway events of the benchmarks, for bench/auth_pairs.py."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id

    def get(self) -> dict[str, Any]:
        return get_event(self.user_id)

    def post(self) -> dict[str, Any]:
        return post_event()


def auth(result_file: str, rounds: int, pairs: int, warmup: int) -> None:
    from bench.auth_pairs import measure

    result = measure(rounds, pairs, warmup, Events(os.environ["BENCH_USER_ID"]), new_invocation)
    with open(result_file, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def main() -> None:
    mode, module_name = sys.argv[1], sys.argv[2]
    if mode == "auth":
        rounds, pairs, warmup = (int(arg) for arg in sys.argv[3:6])
        auth(module_name, rounds, pairs, warmup)
    elif mode == "cold":
        cold(module_name, sys.argv[3], sys.argv[4])
    else:
        serve(module_name, int(sys.argv[3]))


if __name__ == "__main__":
    main()
