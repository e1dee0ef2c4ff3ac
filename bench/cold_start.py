"""Cold start: fresh processes that import the handler and serve one GET, interleaved with the baseline.

Each variant (ours from the bundle with `.pyc`, without, with the Powertools layer standing in;
the bare baseline handler) runs `runs` times in fresh processes, in a shuffled order per round
(round 0 discarded), against the same local engine holding one user. bench/child.py times from
before the handler module's import to the end of its first invocation.

Two estimates of each ratio come from the same rounds: the median of each side over the baseline's
median (and each side's fastest round), the target's figures; and, reported beside them, the
median of the rounds' own ratios. A round runs every variant back to back, so its ratio compares
processes that met the same machine; when the machine's speed drifts during a run (other tenants,
the hypervisor), the medians of the two sides may come from different moments and the paired
figure does not.

A variant is one entry of `variants`: (Source, handler module) and one label in LABELS. What
authorization adds to a cold start is measured apart, in one process (bench/authorization.py):
between two sets of fresh processes the medians move by more than it.
"""

from __future__ import annotations

import os
import random
import statistics
from typing import Any

from bench.common import CHILD, RESULT_FILE, TABLE, Row, Source, log, run_for_json, summary, verdict
from bench.sources import lambda_environment
from local.engine import LocalEngine
from local.stage import LOCAL_CREDENTIALS
from local.tables import ensure_table

TARGETS = {"cold_start_ratio": 1.35}
# Variant name -> figure name (`<figure>_ratio`, `<figure>_best_ratio`) and the table's label.
FIGURES = {"ours": "cold_start", "ours_no_pyc": "cold_start_no_pyc"}
LABELS = {
    "ours_no_pyc": "cold start without bytecode",
    "ours_layer": "  cold start, Powertools from the managed layer (no .pyc, as AWS ships it)",
    "ours_layer_pyc": "  cold start, Powertools layer given .pyc (not what AWS ships)",
}


def _cold_once(source: Source, module: str, env: dict[str, str], user_id: str) -> dict[str, Any]:
    result: dict[str, Any] = run_for_json(source, [str(CHILD), "cold", module, RESULT_FILE, user_id], env)
    if result["status"] != 200:
        raise RuntimeError(f"cold start of {module} from {source.name} answered {result['status']}")
    return result


def seed_user(endpoint: str) -> str:
    """The table and one user, written through the service's own repository."""
    import boto3

    from service.repository import DynamoUserRepository
    from service.users import new_user

    os.environ.update(LOCAL_CREDENTIALS)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    ensure_table(client, TABLE)
    repository = DynamoUserRepository(client, TABLE)
    user = new_user("Ada Lovelace", "ada@example.com")
    repository.add(user)
    return user.user_id


def cold_start(variants: dict[str, tuple[Source, str]], runs: int, seed: int = 6) -> dict[str, Any]:
    """Each variant `runs` times in fresh processes, in a shuffled order per round (round 0 discarded)."""
    rng = random.Random(seed)  # noqa: S311 - an order, not a secret
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    with LocalEngine() as engine:
        user_id = seed_user(engine.endpoint)
        envs = {
            name: lambda_environment(src, engine.endpoint, user_id) for name, (src, _) in variants.items()
        }
        for round_number in range(runs + 1):
            order = list(variants)
            rng.shuffle(order)
            for name in order:
                source, module = variants[name]
                result = _cold_once(source, module, envs[name], user_id)
                if round_number:
                    samples[name].append(result)
            log(f"cold start round {round_number}/{runs}")
    base = [s["total_ms"] for s in samples["baseline"]]
    return {
        name: {
            "total_ms": summary([s["total_ms"] for s in values]),
            "paired_ratio": paired_ratios([s["total_ms"] for s in values], base),
            "cpu_ms": summary([s["cpu_ms"] for s in values]),
            "init_ms": summary([s["init_ms"] for s in values]),
            "first_invocation_ms": summary([s["first_ms"] for s in values]),
            "modules_loaded": values[-1]["modules"],
        }
        for name, values in samples.items()
    }


def paired_ratios(values: list[float], base: list[float]) -> dict[str, float]:
    """The rounds' own ratios (same round, same machine): their median and middle half."""
    ratios = [value / baseline for value, baseline in zip(values, base, strict=True)]
    if len(ratios) < 2:
        return {"median": round(ratios[0], 3), "q1": round(ratios[0], 3), "q3": round(ratios[0], 3)}
    q1, median, q3 = statistics.quantiles(ratios, n=4)
    return {"median": round(median, 3), "q1": round(q1, 3), "q3": round(q3, 3)}


def figures(cold: dict[str, Any]) -> dict[str, float]:
    """Each variant's median over the baseline's (same rounds), and its best round over the baseline's."""
    base = cold["baseline"]["total_ms"]
    names = {**FIGURES, **{name: name for name in LABELS if name not in FIGURES}}
    found = {}
    for name, figure in names.items():
        if name in cold:
            found[f"{figure}_ratio"] = round(cold[name]["total_ms"]["median"] / base["median"], 3)
            # Fastest round of each side: on a busy machine, the least disturbed estimate.
            found[f"{figure}_best_ratio"] = round(cold[name]["total_ms"]["min"] / base["min"], 3)
            found[f"{figure}_paired_ratio"] = cold[name]["paired_ratio"]["median"]
    # The same in CPU time: other processes on the machine move it far less than the wall clock.
    cpu, base_cpu = cold["ours"]["cpu_ms"], cold["baseline"]["cpu_ms"]
    found["cold_start_cpu_ratio"] = round(cpu["median"] / base_cpu["median"], 3)
    found["cold_start_cpu_best_ratio"] = round(cpu["min"] / base_cpu["min"], 3)
    return found


def rows(cold: dict[str, Any], figures: dict[str, float]) -> list[Row]:
    ours, base = cold["ours"]["total_ms"], cold["baseline"]["total_ms"]
    ratio, best = figures["cold_start_ratio"], figures["cold_start_best_ratio"]
    cpu, base_cpu = cold["ours"]["cpu_ms"], cold["baseline"]["cpu_ms"]
    paired = cold["ours"]["paired_ratio"]
    target = TARGETS["cold_start_ratio"]
    found: list[Row] = [
        (
            "cold start (import + first GET)",
            f"{ours['median']:.0f} ms vs baseline {base['median']:.0f} ms = {ratio:.2f}x "
            f"(best round {best:.2f}x)",
            f"<= {target}x (median and best)",
            verdict(max(ratio, best), target),
        ),
        (
            "  cold start, paired by round (median of the rounds' ratios)",
            f"{paired['median']:.2f}x (middle half of the rounds {paired['q1']:.2f}x-{paired['q3']:.2f}x)",
            "reported",
            "-",
        ),
        (
            "  cold start in CPU time (same rounds)",
            f"{cpu['median']:.0f} ms vs baseline {base_cpu['median']:.0f} ms = "
            f"{figures['cold_start_cpu_ratio']:.2f}x "
            f"(best round {figures['cold_start_cpu_best_ratio']:.2f}x)",
            "reported",
            "-",
        ),
    ]
    for name, label in LABELS.items():
        if name not in cold:
            continue
        figure = FIGURES.get(name, name)
        total = cold[name]["total_ms"]
        more = total["min"] - ours["min"]
        measured = (
            f"{total['median']:.0f} ms = {figures[f'{figure}_ratio']:.2f}x "
            f"(best round {figures[f'{figure}_best_ratio']:.2f}x, {more:+.0f} ms vs ours' best)"
        )
        found.append((label, measured, "reported", "-"))
    return found
