"""users-api under load: one task per operation of the contract, one load shape per profile.

    locust -f loadtest/ --host http://127.0.0.1:8000 --headless --profile smoke
    locust -f loadtest/ --host https://<api>/dev --profile daily --stage dev      (web UI)
    locust -f loadtest/ --host http://127.0.0.1:8000 --headless --profile capacity --processes -1 \
        --master-bind-port <free port> --master-port <the same port>

--profile daily|peak|smoke|capacity (Locust's own option; default $LOAD_PROFILE, else daily) picks the shape;
--stage (default $STAGE, else local) picks the settings.yaml stage whose `load`, `api` and `alarms`
apply. The x-api-key header is sent when $API_KEY is set; with $TOKEN_URL, $CLIENT_ID and
$CLIENT_SECRET (a client holding every scope), each simulated consumer gets an access token (client
credentials grant) when it starts and a new one before it expires. At the end the run is compared with the
stage's alarm thresholds: a breach is printed and Locust exits non-zero (exit code 2: the settings or the
contract cannot make the run, e.g. an operation without a weight in load.mix). `capacity` is judged
per step instead and prints its knee (loadtest/_capacity.py). Reports default to
reports/load.html and reports/load_*.csv (--html/--csv override them). The web UI and the master of
--processes workers listen on 127.0.0.1 by default (--web-host, --master-bind-host to change it).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `locust -f loadtest/` from any directory
    sys.path.insert(0, str(ROOT))

from locust import FastHttpUser, LoadTestShape, events  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.runners import WorkerRunner  # noqa: E402

from consumers.token import TokenSource, from_environment  # noqa: E402
from loadtest._answers import AnswerCheck, Reply  # noqa: E402
from loadtest._capacity import REPORT_LAG_SECONDS, Step, Timeline, knee, measure, report  # noqa: E402
from loadtest._gate import GATE_EXIT_CODE, evaluate, measured, verdict  # noqa: E402
from loadtest._host import run_watch  # noqa: E402
from loadtest._profiles import Dither, Profile, ProfileError, build_profile  # noqa: E402
from loadtest._scenarios import (  # noqa: E402
    Call,
    Judge,
    Resource,
    Scenario,
    ScenarioError,
    Session,
    UnknownRead,
    scenarios,
    unknown_reads,
)
from loadtest._settings import RunSettings, load_run_settings  # noqa: E402
from service.contract import get_contract  # noqa: E402
from service.settings import SettingsError  # noqa: E402

log = logging.getLogger("loadtest")


class QuietShapeUpdates(logging.Filter):
    """Drop the runner's line per user-count change: the shapes change it about every second."""

    NOISE = ("Shape test updating to", "Ramping to", "All users spawned", "Sending spawn jobs")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOISE)


logging.getLogger("locust.runners").addFilter(QuietShapeUpdates())
Handler = TypeVar("Handler", bound=Callable[..., None])
CONTRACT = get_contract()
CREDENTIALS = from_environment()  # TOKEN_URL, CLIENT_ID, CLIENT_SECRET: a consumer with every scope
REPORTS = ROOT / "reports"
INIT_EXIT_CODE = 2
LOOPBACK = "127.0.0.1"


def on(event: Any) -> Callable[[Handler], Handler]:
    """`@on(events.x)`: Locust's `add_listener` as a typed decorator."""

    def register(handler: Handler) -> Handler:
        event.add_listener(handler)
        return handler

    return register


@on(events.init_command_line_parser)
def add_arguments(parser: Any) -> None:
    # --profile is Locust's own option (it names the run in the reports): here it also picks the shape.
    parser.add_argument(
        "--stage",
        default=os.environ.get("STAGE", "local"),
        help="settings.yaml stage whose load, api and alarms settings apply",
    )
    # What Locust serves (the web UI, the master of --processes workers) listens on the loopback only
    # unless told otherwise (Locust's defaults are every interface): --web-host, --master-bind-host.
    parser.set_defaults(
        profile=os.environ.get("LOAD_PROFILE", "daily"),
        html_file=str(REPORTS / "load.html"),
        csv_prefix=str(REPORTS / "load"),
        web_host=LOOPBACK,
        master_bind_host=LOOPBACK,
    )


def run_settings(environment: Environment) -> tuple[str, RunSettings]:
    options = environment.parsed_options
    profile = getattr(options, "profile", None) or os.environ.get("LOAD_PROFILE", "daily")
    stage = getattr(options, "stage", None) or os.environ.get("STAGE", "local")
    return profile, stage_settings(stage)


@functools.cache
def stage_settings(stage: str) -> RunSettings:
    """Read once: a settings file edited during a run changes neither its load nor its verdict."""
    return load_run_settings(stage)


class StatusCounts:
    """4XX, 429 and 5XX responses of the run (Locust's stats keep failures, not statuses)."""

    def __init__(self) -> None:
        self.four_xx = self.throttled = self.five_xx = 0

    def add(self, status: int) -> None:
        self.four_xx += 400 <= status < 500
        self.throttled += status == 429
        self.five_xx += 500 <= status < 600

    def take(self) -> dict[str, int]:
        counts = {"four_xx": self.four_xx, "throttled": self.throttled, "five_xx": self.five_xx}
        self.four_xx = self.throttled = self.five_xx = 0
        return counts

    def merge(self, counts: dict[str, int]) -> None:
        self.four_xx += counts.get("four_xx", 0)
        self.throttled += counts.get("throttled", 0)
        self.five_xx += counts.get("five_xx", 0)


STATUSES = StatusCounts()
# The host's steal and the CPU of the load generator and of the local stage (STAGE_PID), over the run.
HOST = run_watch(int(os.environ.get("STAGE_PID") or 0) or None)
# Requests by the second they started in, with their exact response times: the capacity profile's
# steps, and the gate's percentiles.
TIMELINE = Timeline()


@on(events.request)
def count_status(response: Any = None, response_time: float = 0.0, exception: Any = None, **_: Any) -> None:
    STATUSES.add(int(getattr(response, "status_code", 0) or 0))
    TIMELINE.add(time.time() - response_time / 1000, response_time, exception is not None)


@on(events.report_to_master)
def send_statuses(data: dict[str, Any], **_: Any) -> None:
    data["users_api_statuses"] = STATUSES.take()
    data["users_api_timeline"] = TIMELINE.take()


@on(events.worker_report)
def receive_statuses(data: dict[str, Any], **_: Any) -> None:
    STATUSES.merge(data.get("users_api_statuses", {}))
    TIMELINE.merge(data.get("users_api_timeline", {}))


# The shapes change the number of clients every second or so. A stopped client's pool goes here
# for the next one to start with, so user churn does not turn into extra producer calls (creates).
IDLE_POOLS: list[list[Resource]] = []


class NotSent(Exception):
    """An action that could not be sent: what it needed was missing from earlier answers."""


class LocustTransport:
    """Sends a scenario's request through the user's Locust client, named by its path template."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def send(self, call: Call, judge: Judge) -> Reply | None:
        url = f"{call.url}?{urlencode(call.query)}" if call.query else call.url
        with self.client.request(
            call.method, url, name=call.name, headers=dict(call.headers), data=call.body, catch_response=True
        ) as response:
            reply = Reply(int(response.status_code or 0), response.headers or {}, response.content or b"")
            problem = judge(reply)
            if problem is not None:
                response.failure(problem)
                return None
            response.success()
            return reply

    def fail(self, method: str, name: str, message: str) -> None:
        """A failure in Locust's statistics for a request that was not sent (0 ms, no answer)."""
        self.client.request_event.fire(
            request_type=method,
            name=name,
            response_time=0,
            response_length=0,
            response=None,
            context={},
            exception=NotSent(message),
        )


# One per process: its validators of the contract's answers are built once and shared by every client.
ANSWERS = AnswerCheck()


class UsersApiClient(FastHttpUser):
    """A client of the API: each task is one operation of the contract, weighted by load.mix.

    It starts an action every think_time_min..max seconds (pacing, so the rate does not depend
    on the stage's latency). Ids and ETags come from its own earlier responses, through the
    contract's links (loadtest._scenarios.Session). Locust's FastHttpUser (geventhttpclient):
    measured on the local stage, HttpUser (requests) spent 5 to 6 ms of the load generator's CPU
    per request, as much as the engine, on a machine the generator shares with the stage.
    """

    think_time = (0.5, 2.0)  # replaced from settings at init
    plan: tuple[Scenario, ...] = ()  # replaced from the contract and settings at init
    unknown: tuple[UnknownRead, ...] = ()

    def on_start(self) -> None:
        api_key = os.environ.get("API_KEY", "")
        header = CONTRACT.api_key_header
        headers = {header: api_key} if api_key and header else {}
        self.session = Session(self.plan, LocustTransport(self.client), headers=headers, check=ANSWERS)
        # Each simulated consumer gets its own token, and a new one before it expires.
        self.tokens = TokenSource(CREDENTIALS) if CREDENTIALS is not None else None
        self.authorize()
        if IDLE_POOLS:  # the resources of a client the shape stopped: no producer run needed
            self.session.pool = IDLE_POOLS.pop()
        # Clients arrive at random moments, not all at the instant they are spawned.
        phase = random.uniform(0, random.uniform(*self.think_time))
        self._action_started = time.monotonic() + phase
        time.sleep(phase)  # cooperative: Locust monkey-patches the standard library with gevent

    def on_stop(self) -> None:
        session = getattr(self, "session", None)
        if session is not None:
            IDLE_POOLS.append(session.handover())

    def wait_time(self) -> float:
        now = time.monotonic()
        delay = max(0.0, random.uniform(*self.think_time) - (now - self._action_started))
        self._action_started = now + delay
        return delay

    def authorize(self) -> None:
        """The session's Authorization header: the consumer's current token (refreshed when due)."""
        if self.tokens is not None:
            self.session.headers["Authorization"] = f"Bearer {self.tokens.token()}"

    def unknown_id_read(self) -> None:
        """load.unknown_id_reads: a GET of a well-formed id nobody has; the contract's 404."""
        self.authorize()
        self.session.read_unknown(random.choice(self.unknown))


def task_of(operation_id: str) -> Callable[[UsersApiClient], None]:
    """The Locust task of one operation (named by its operationId in Locust's task ratios)."""

    def run(user: UsersApiClient) -> None:
        user.authorize()
        user.session.run(operation_id)

    run.__name__ = run.__qualname__ = operation_id
    return run


def configure_clients(settings: RunSettings) -> None:
    """Tasks from the contract and load.mix, think time from settings.yaml's `load` section."""
    load = settings.load
    plan = scenarios(CONTRACT, load.mix)
    tasks: list[Any] = []
    for scenario in plan:
        tasks += [task_of(scenario.operation_id)] * scenario.weight
    tasks += [UsersApiClient.unknown_id_read] * load.unknown_id_reads
    UsersApiClient.plan = tuple(plan)
    UsersApiClient.unknown = tuple(unknown_reads(CONTRACT))
    UsersApiClient.tasks = tasks
    UsersApiClient.think_time = (load.think_time_min_seconds, load.think_time_max_seconds)


# The stage's settings come with the options, at init; this early call shows the tasks in the web
# UI. A mix the contract refuses is reported by on_init, which stops the run with INIT_EXIT_CODE.
with contextlib.suppress(ProfileError, ScenarioError, SettingsError):
    configure_clients(stage_settings(os.environ.get("STAGE", "local")))


class UsersApiShape(LoadTestShape):
    """The user count of the selected profile over time; stops at its end or its request budget."""

    # Locust's base class is untyped: this one keeps its own clock (Locust calls reset_time at start).
    def __init__(self) -> None:  # the base class only sets start_time, done in reset_time
        self.reset_time()

    def reset_time(self) -> None:
        self.start_time = time.perf_counter()
        self.wall_start = time.time()
        self._profile: Profile | None = None
        self._dither = Dither()
        self.steps: list[Step] = []  # capacity: the steps judged so far

    def profile(self) -> Profile:
        if self._profile is None:
            assert self.runner is not None
            name, settings = run_settings(self.runner.environment)
            self._profile = build_profile(name, settings)
        return self._profile

    def tick(self) -> tuple[int, float] | None:
        profile = self.profile()
        elapsed = time.perf_counter() - self.start_time
        if profile.name == "capacity" and not self.capacity_continues(profile, elapsed):
            return None
        assert self.runner is not None
        if elapsed >= profile.duration_seconds:
            if profile.name == "capacity":  # hold the last step until its reports are in
                users = self._dither.count(elapsed, profile.users_at(profile.duration_seconds - 1))
                return users, float(max(users, 1))
            if not profile.runs_on(elapsed, self.runner.stats.total.num_requests):
                return None
            users = self._dither.count(elapsed, profile.users_at(profile.duration_seconds))
            return users, float(max(users, 1))  # the gate judges alarms.min_requests requests at least
        if self.runner.stats.total.num_requests >= profile.max_requests:
            log.warning(
                "profile %s: request budget of %d spent, stopping", profile.name, profile.max_requests
            )
            return None
        users = self._dither.count(elapsed, profile.users_at(elapsed))
        return users, float(max(users, 1))

    def capacity_continues(self, profile: Profile, elapsed: float) -> bool:
        """Judge each step once its reports are in; False after the first breach or the last step."""
        assert self.runner is not None
        hold = float(run_settings(self.runner.environment)[1].load.capacity_step_seconds)
        steps = round(profile.duration_seconds / hold)
        alarms = run_settings(self.runner.environment)[1].alarms
        while len(self.steps) < steps and elapsed >= (len(self.steps) + 1) * hold + REPORT_LAG_SECONDS:
            index = len(self.steps)
            start = self.wall_start + index * hold
            step = measure(TIMELINE, profile.rate(index * hold), start, start + hold)
            self.steps.append(step)
            log.info("capacity step %d: %s", index + 1, step.line(alarms))
            if step.breaches(alarms):
                return False
        return len(self.steps) < steps


@on(events.init)
def on_init(environment: Environment, **_: Any) -> None:
    try:
        name, settings = run_settings(environment)
        configure_clients(settings)
        profile = build_profile(name, settings, CONTRACT)
    except (ProfileError, ScenarioError, SettingsError) as error:
        log.error("%s", error)
        sys.exit(INIT_EXIT_CODE)
    if isinstance(environment.runner, WorkerRunner):
        return  # the master says it once
    log.info(
        "profile %s on stage %s: %.0f s, about %.0f requests (budget %d), peak %.1f requests/s "
        "(about %.0f clients)",
        profile.name,
        settings.stage,
        profile.duration_seconds,
        profile.expected_requests,
        profile.max_requests,
        profile.peak_rate,
        profile.peak_rate / profile.client.requests_per_second,
    )


@on(events.test_start)
def on_test_start(environment: Environment | None = None, **_: Any) -> None:
    STATUSES.take()
    TIMELINE.take()  # a run's own requests only (the web UI may start several)
    if environment is not None and isinstance(environment.runner, WorkerRunner):
        return
    HOST.start()
    # A greenlet: Locust monkey-patches threading with gevent.
    threading.Thread(target=HOST.run, name="host-cpu", daemon=True).start()


@on(events.quitting)
def gate(environment: Environment, **_: Any) -> None:
    """Compare the run with the stage's alarm thresholds; a breach makes Locust exit non-zero."""
    if isinstance(environment.runner, WorkerRunner):
        return
    name, settings = run_settings(environment)
    if name == "capacity":
        capacity_verdict(environment, settings)
        return
    total = environment.stats.total
    run = measured(
        total.num_requests,
        total.num_failures,
        TIMELINE.times(),
        five_xx=STATUSES.five_xx,
        four_xx=STATUSES.four_xx,
        throttled=STATUSES.throttled,
    )
    breaches = evaluate(run, settings.alarms)
    host = HOST.report()
    context = host.lines(total.num_requests) if host is not None else []
    header = f"load gate, profile {name}, stage {settings.stage}"
    print(verdict(run, breaches, header, context), flush=True)
    if breaches:
        environment.process_exit_code = GATE_EXIT_CODE
    elif environment.runner is not None and not environment.runner.exceptions:
        # Failures within alarms.error_rate_percent pass; exceptions in this file still fail.
        environment.process_exit_code = 0


def capacity_verdict(environment: Environment, settings: RunSettings) -> None:
    """The steps and the knee; exit 0 when some step held (the ramp is meant to breach at its end)."""
    shape = environment.shape_class
    steps: list[Step] = list(getattr(shape, "steps", []))
    print(report(steps, settings.alarms), flush=True)
    host = HOST.report()
    for line in host.lines(environment.stats.total.num_requests) if host is not None else []:
        print(f"  {line}", flush=True)
    held = knee(steps, settings.alarms).held is not None
    environment.process_exit_code = 0 if held else GATE_EXIT_CODE
