"""users-api under load: clients that behave like the API's real ones, one load shape per profile.

    locust -f loadtest/ --host http://127.0.0.1:8000 --headless --profile smoke
    locust -f loadtest/ --host https://<api>/dev --profile daily --stage dev      (web UI)

--profile daily|peak|smoke (Locust's own option; default $LOAD_PROFILE, else daily) picks the shape;
--stage (default $STAGE, else local) picks the settings.yaml stage whose `load`, `api` and `alarms`
apply. The x-api-key header is sent when $API_KEY is set. At the end the run is compared with the
stage's alarm thresholds: a breach is printed and Locust exits non-zero. Reports default to
reports/load.html and reports/load_*.csv (--html/--csv override them).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `locust -f loadtest/` from any directory
    sys.path.insert(0, str(ROOT))

from locust import HttpUser, LoadTestShape, events  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.runners import WorkerRunner  # noqa: E402

from loadtest._contract import read_traffic  # noqa: E402
from loadtest._gate import GATE_EXIT_CODE, Measured, evaluate, verdict  # noqa: E402
from loadtest._profiles import (  # noqa: E402
    REQUESTS_PER_BEHAVIOUR,
    Dither,
    Profile,
    ProfileError,
    build_profile,
)
from loadtest._settings import RunSettings, load_run_settings  # noqa: E402
from service.settings import SettingsError  # noqa: E402

log = logging.getLogger("loadtest")


class QuietShapeUpdates(logging.Filter):
    """Drop the runner's line per user-count change: the shapes change it about every second."""

    NOISE = ("Shape test updating to", "Ramping to", "All users spawned")

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.NOISE)


logging.getLogger("locust.runners").addFilter(QuietShapeUpdates())
Handler = TypeVar("Handler", bound=Callable[..., None])
TRAFFIC = read_traffic()
REPORTS = ROOT / "reports"


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
    parser.set_defaults(
        profile=os.environ.get("LOAD_PROFILE", "daily"),
        html_file=str(REPORTS / "load.html"),
        csv_prefix=str(REPORTS / "load"),
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


@on(events.request)
def count_status(response: Any = None, **_: Any) -> None:
    STATUSES.add(int(getattr(response, "status_code", 0) or 0))


@on(events.report_to_master)
def send_statuses(data: dict[str, Any], **_: Any) -> None:
    data["users_api_statuses"] = STATUSES.take()


@on(events.worker_report)
def receive_statuses(data: dict[str, Any], **_: Any) -> None:
    STATUSES.merge(data.get("users_api_statuses", {}))


class UsersApiClient(HttpUser):
    """A client of the API: creates users and reads them back, reads unknown ids, checks health.

    It starts an action every think_time_min..max seconds (pacing, so the rate does not depend
    on the stage's latency) and picks the action by load.mix's weights.
    """

    think_time = (0.5, 2.0)  # replaced from settings at init

    def on_start(self) -> None:
        api_key = os.environ.get("API_KEY", "")
        if api_key:
            self.client.headers[TRAFFIC.api_key_header] = api_key
        # Clients arrive at random moments, not all at the instant they are spawned.
        phase = random.uniform(0, random.uniform(*self.think_time))
        self._action_started = time.monotonic() + phase
        time.sleep(phase)  # cooperative: Locust monkey-patches the standard library with gevent

    def wait_time(self) -> float:
        now = time.monotonic()
        delay = max(0.0, random.uniform(*self.think_time) - (now - self._action_started))
        self._action_started = now + delay
        return delay

    def create_and_read(self) -> None:
        create, read = TRAFFIC.create_user, TRAFFIC.get_user
        body = TRAFFIC.new_user()
        with self.client.request(
            create.method, create.path, json=body, name=create.path, catch_response=True
        ) as created:
            user = _expect_json(created, 201, create.operation_id)
            if user is None:
                return
            if (
                user.get("name") != body["name"]
                or str(user.get("email", "")).casefold() != body["email"].casefold()
            ):
                created.failure(f"{create.operation_id}: the created user differs from the request")
                return
        with self.client.request(
            read.method, TRAFFIC.user_path(str(user["userId"])), name=read.path, catch_response=True
        ) as fetched:
            again = _expect_json(fetched, 200, read.operation_id)
            if again is not None and again != user:
                fetched.failure(f"{read.operation_id}: read-after-write returned {again}, wrote {user}")

    def read_unknown(self) -> None:
        read = TRAFFIC.get_user
        with self.client.request(
            read.method,
            TRAFFIC.user_path(TRAFFIC.unknown_user_id()),
            name=f"{read.path} (unknown)",
            catch_response=True,
        ) as response:
            _expect_json(response, 404, read.operation_id)

    def health(self) -> None:
        health = TRAFFIC.get_health
        with self.client.request(health.method, health.path, name=health.path, catch_response=True) as r:
            _expect_json(r, 200, health.operation_id)


def _expect_json(response: Any, status: int, operation_id: str) -> dict[str, Any] | None:
    """Mark the response a success when it has `status` and a JSON object body; return the body."""
    if response.status_code != status:
        response.failure(f"{operation_id}: expected {status}, got {response.status_code}")
        return None
    try:
        document = response.json()
    except ValueError:
        response.failure(f"{operation_id}: the body is not JSON")
        return None
    if not isinstance(document, dict):
        response.failure(f"{operation_id}: the body is not a JSON object")
        return None
    response.success()
    return document


def configure_clients(settings: RunSettings) -> None:
    """Task weights and think time from settings.yaml's `load` section."""
    load = settings.load
    behaviours = {name: getattr(UsersApiClient, name) for name in REQUESTS_PER_BEHAVIOUR}
    UsersApiClient.tasks = [behaviours[name] for name, weight in load.mix.items() for _ in range(weight)]
    UsersApiClient.think_time = (load.think_time_min_seconds, load.think_time_max_seconds)


configure_clients(stage_settings(os.environ.get("STAGE", "local")))


class UsersApiShape(LoadTestShape):
    """The user count of the selected profile over time; stops at its end or its request budget."""

    # Locust's base class is untyped: this one keeps its own clock (Locust calls reset_time at start).
    def __init__(self) -> None:  # the base class only sets start_time, done in reset_time
        self.reset_time()

    def reset_time(self) -> None:
        self.start_time = time.perf_counter()
        self._profile: Profile | None = None
        self._dither = Dither()

    def profile(self) -> Profile:
        if self._profile is None:
            assert self.runner is not None
            name, settings = run_settings(self.runner.environment)
            self._profile = build_profile(name, settings)
        return self._profile

    def tick(self) -> tuple[int, float] | None:
        profile = self.profile()
        elapsed = time.perf_counter() - self.start_time
        if elapsed >= profile.duration_seconds:
            return None
        assert self.runner is not None
        if self.runner.stats.total.num_requests >= profile.max_requests:
            log.warning(
                "profile %s: request budget of %d spent, stopping", profile.name, profile.max_requests
            )
            return None
        users = self._dither.count(elapsed, profile.users_at(elapsed))
        return users, float(max(users, 1))


@on(events.init)
def on_init(environment: Environment, **_: Any) -> None:
    try:
        name, settings = run_settings(environment)
        configure_clients(settings)
        profile = build_profile(name, settings)
    except (ProfileError, SettingsError) as error:
        log.error("%s", error)
        sys.exit(2)
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
def on_test_start(**_: Any) -> None:
    STATUSES.take()


@on(events.quitting)
def gate(environment: Environment, **_: Any) -> None:
    """Compare the run with the stage's alarm thresholds; a breach makes Locust exit non-zero."""
    if isinstance(environment.runner, WorkerRunner):
        return
    name, settings = run_settings(environment)
    total = environment.stats.total
    measured = Measured(
        requests=total.num_requests,
        failures=total.num_failures,
        p50_ms=total.get_response_time_percentile(0.5) or 0.0,
        p95_ms=total.get_response_time_percentile(0.95) or 0.0,
        p99_ms=total.get_response_time_percentile(0.99) or 0.0,
        five_xx=STATUSES.five_xx,
        four_xx=STATUSES.four_xx,
        throttled=STATUSES.throttled,
    )
    breaches = evaluate(measured, settings.alarms)
    print(verdict(measured, breaches, f"load gate, profile {name}, stage {settings.stage}"), flush=True)
    if breaches:
        environment.process_exit_code = GATE_EXIT_CODE
    elif environment.runner is not None and not environment.runner.exceptions:
        # Failures within alarms.error_rate_percent pass; exceptions in this file still fail.
        environment.process_exit_code = 0
