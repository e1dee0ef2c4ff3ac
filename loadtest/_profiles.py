"""Load profiles (daily, peak, smoke, capacity) derived from settings.yaml: pure functions, no Locust.

A simulated client starts one action every `pacing` seconds on average (uniform between
load.think_time_min_seconds and load.think_time_max_seconds); an action is one task of the mix
(one operation of the contract, weighted by load.mix) and sends one request, plus its producers
when its pool is empty: `loadtest._scenarios.requests_per_action` estimates the mean from the
weights. So a target rate R (requests/s) needs R / client rate users; the shape turns that
fractional number into whole users without losing user-seconds (`Dither`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from loadtest._scenarios import requests_per_action, scenarios, unknown_reads
from loadtest._settings import LoadSettings, RunSettings
from service.contract import Contract, get_contract

PROFILES = ("daily", "peak", "smoke", "capacity")
PEAK_HOUR = 14.0  # where the daily curve peaks; the compressed day starts at midnight
PEAK_RAMP_SHARE = 0.1  # `peak` ramps up over this share of its run, then holds
REQUEST_BUDGET_FACTOR = 1.5  # a run stops once it sent this many times its expected requests
# `smoke` lasts long enough to expect this many times alarms.min_requests (the gate judges no run with
# fewer): its clients start within its first seconds (spawned over a second, then a random phase).
SMOKE_REQUESTS_MARGIN = 1.5
# A gated run with fewer than alarms.min_requests requests at its end runs on, up to this many times its
# duration, until it has them (slow answers, e.g. cold starts after a deploy, space a client's actions).
OVERTIME_FACTOR = 2.0


class ProfileError(ValueError):
    """The load settings cannot make this profile; the message names the setting."""


@dataclasses.dataclass(frozen=True)
class Client:
    """What one simulated client does on average."""

    requests_per_action: float
    pacing_seconds: float  # mean time between the starts of two actions

    @property
    def requests_per_second(self) -> float:
        return self.requests_per_action / self.pacing_seconds


def client_of(load: LoadSettings, contract: Contract | None = None) -> Client:
    """The mean client of load.mix on the contract (ScenarioError names a missing or unknown weight)."""
    contract = contract if contract is not None else get_contract()
    if load.think_time_max_seconds < load.think_time_min_seconds or load.think_time_max_seconds <= 0:
        raise ProfileError("setting load.think_time_max_seconds: must be > 0 and >= the minimum")
    if load.unknown_id_reads and not unknown_reads(contract):
        raise ProfileError(
            "setting load.unknown_id_reads: the contract has no GET of a uuid id declaring 404; set it to 0"
        )
    per_action = requests_per_action(scenarios(contract, load.mix), load.unknown_id_reads)
    pacing = (load.think_time_min_seconds + load.think_time_max_seconds) / 2
    return Client(requests_per_action=per_action, pacing_seconds=pacing)


def _bump_mean(k: float) -> float:
    """Mean over a period of ((1 + cos x) / 2) ** k, i.e. Gamma(k + 1/2) / (sqrt(pi) Gamma(k + 1))."""
    return math.exp(math.lgamma(k + 0.5) - math.lgamma(k + 1)) / math.sqrt(math.pi)


def day_curve(peak_to_average: float, night_to_average: float) -> Callable[[float], float]:
    """Rate / the day's average rate, at a fraction of the day (0 = midnight).

    night + (peak - night) * bump, where bump is a raised cosine peaking at PEAK_HOUR, sharpened
    until the curve's mean over the day is 1: its maximum is then `peak_to_average` and its
    minimum, in the night, `night_to_average`.
    """
    if peak_to_average <= 1 or night_to_average >= 1:
        return lambda _x: 1.0
    wanted = (1 - night_to_average) / (peak_to_average - night_to_average)
    low, high = 0.0, 1.0
    while _bump_mean(high) > wanted:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if _bump_mean(middle) > wanted else (low, middle)
    sharpness = (low + high) / 2

    def curve(x: float) -> float:
        bump = math.pow((1 + math.cos(2 * math.pi * (x - PEAK_HOUR / 24))) / 2, sharpness)
        return night_to_average + (peak_to_average - night_to_average) * bump

    return curve


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    duration_seconds: float
    rate: Callable[[float], float]  # target requests/s, t seconds into the run
    expected_requests: float
    client: Client
    peak_rate: float  # the highest target requests/s of the run
    min_requests: int = 0  # the gate judges no fewer (alarms.min_requests): the shape runs on for them

    def runs_on(self, elapsed: float, requests: int) -> bool:
        """Past its duration, the run goes on while it has fewer than `min_requests` requests, up to
        OVERTIME_FACTOR x its duration."""
        return requests < self.min_requests and elapsed < self.duration_seconds * OVERTIME_FACTOR

    def users_at(self, t: float) -> float:
        """The (fractional) number of clients that send `rate(t)`."""
        return self.rate(t) / self.client.requests_per_second

    @property
    def max_requests(self) -> int:
        """The request budget: the run stops when it is spent, whatever the time."""
        return math.ceil(self.expected_requests * REQUEST_BUDGET_FACTOR) + 20


def designed_rate(settings: RunSettings) -> tuple[float, str]:
    """What `peak` holds and the highest rate `daily` may reach: load.peak_throttle_fraction of the
    lower of the stage's throttle and the load client's usage plan (every simulated consumer sends
    that client's API key), and the setting that limit comes from."""
    limit, setting = settings.sustained_limit
    return limit * settings.load.peak_throttle_fraction, setting


def build_profile(name: str, settings: RunSettings, contract: Contract | None = None) -> Profile:
    load = settings.load
    client = client_of(load, contract)
    judged = settings.alarms.min_requests  # the gate judges no run with fewer requests
    if name == "daily":
        duration = float(load.daily_run_seconds)
        average = load.requests_per_day / duration
        curve = day_curve(load.peak_to_average, load.night_to_average)
        designed, limit_setting = designed_rate(settings)
        peak = average * load.peak_to_average
        if peak > designed:
            shortest = math.ceil(load.requests_per_day * load.peak_to_average / designed)
            needed = math.ceil(peak / load.peak_throttle_fraction)
            raise ProfileError(
                f"setting load.daily_run_seconds: {load.daily_run_seconds} s compresses the day's peak to "
                f"{peak:.1f} requests/s, above the {designed:.1f} the run may send ({limit_setting} "
                f"{settings.sustained_limit[0]:g}, the lower of the stage's throttle and the load client's "
                f"usage plan, x load.peak_throttle_fraction {load.peak_throttle_fraction:g}): make it "
                f">= {shortest} s, or raise {limit_setting} to >= {needed}"
            )
        return Profile(
            name,
            duration,
            lambda t: average * curve(t / duration),
            expected_requests=float(load.requests_per_day),
            client=client,
            peak_rate=average * max(load.peak_to_average, 1.0),
            min_requests=judged,
        )
    if name == "peak":
        duration = float(load.peak_run_seconds)
        rate, _ = designed_rate(settings)
        ramp = duration * PEAK_RAMP_SHARE
        return Profile(
            name,
            duration,
            lambda t: rate * min(1.0, t / ramp),
            expected_requests=rate * (duration - ramp / 2),
            client=client,
            peak_rate=rate,
            min_requests=judged,
        )
    if name == "smoke":
        rate = load.smoke_users * client.requests_per_second
        # At least load.smoke_run_seconds, and long enough to send alarms.min_requests with a margin.
        duration = float(max(load.smoke_run_seconds, math.ceil(judged * SMOKE_REQUESTS_MARGIN / rate)))
        designed, limit_setting = designed_rate(settings)
        if rate > designed:
            raise ProfileError(
                f"setting load.smoke_users: {load.smoke_users} clients send {rate:.1f} requests/s, above the "
                f"{designed:.1f} the run may send ({limit_setting} x load.peak_throttle_fraction)"
            )
        return Profile(
            name,
            duration,
            lambda _t: rate,
            expected_requests=rate * duration,
            client=client,
            peak_rate=rate,
            min_requests=judged,
        )
    if name == "capacity":
        step, hold = load.capacity_step_rate, float(load.capacity_step_seconds)
        steps = max(1, math.ceil(load.capacity_max_rate / step - 1e-9))
        return Profile(
            name,
            steps * hold,
            lambda t: step * min(steps, math.floor(t / hold) + 1),
            expected_requests=step * hold * steps * (steps + 1) / 2,
            client=client,
            peak_rate=step * steps,
        )
    raise ProfileError(f"unknown load profile {name!r} (known: {', '.join(PROFILES)})")


class Dither:
    """Whole user counts whose user-seconds follow a fractional target (error diffusion).

    Rounding 0.6 users to 1 all night would send 60% too much; instead the count alternates so
    that, over time, users x seconds matches the target's.
    """

    def __init__(self) -> None:
        self._debt = 0.0  # user-seconds owed (target minus sent)
        self._last: tuple[float, float, int] | None = None  # (t, target, count)

    def count(self, t: float, target: float) -> int:
        if self._last is not None:
            last_t, last_target, last_count = self._last
            self._debt += (last_target - last_count) * max(0.0, t - last_t)
            self._debt = max(-1.0, min(1.0, self._debt))
        count = max(0, round(target + self._debt))
        self._last = (t, target, count)
        return count
