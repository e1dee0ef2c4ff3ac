"""Runs the figure families of `make bench` and hands their results to the report.

Orchestration only: which families run (`only`), from which code (the Lambda bundle or this
checkout), with which counts. Each family is a module with its measurement, its `figures` (the
flat numbers of reports/bench.json's "figures") and its `rows` (the table):

    cold_start.py      fresh processes: import + first GET, ours vs the bare baseline handler
    warm.py            long-lived processes: per-request overhead and peak RSS
    authorization.py   one process, two contracts: what authorization adds (auth_pairs.py)
    bundle_size.py     the deploy asset, zipped, and its largest distributions
    contract_scale.py  cold init at 3, 30 and 150 operations: the growth per operation
    local_stage.py     uvicorn + the app on the local engine vs direct boto3 calls
    engine_scale.py    the local engine's create latency and memory as the table grows
    engine_list.py     the local engine's listUsers page latency as the table grows
    report.py          reports/bench.json and the table

A new family is a module of its own with the same three parts, one name in FAMILIES and one
branch below.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import authorization, bundle_size, cold_start, contract_scale, local_stage, report, warm
from bench.common import BASELINE, BUILD_DIR, OURS, REPORT_FILE, ROOT, Source, log
from bench.engine_list import LIST_PAGES, LIST_SIZES, LIST_TARGETS, list_scale
from bench.engine_scale import CREATES as ENGINE_CREATES
from bench.engine_scale import SIZES as ENGINE_SIZES
from bench.engine_scale import TARGETS as ENGINE_TARGETS
from bench.engine_scale import engine_scale
from bench.sources import (
    bundle_sources,
    checkout_source,
    compile_baseline,
    lambda_environment,
    layer_sources,
)
from local.engine import HOST, free_port

FAMILIES = ("cold", "warm", "auth", "bundle", "scale", "local", "engine")
TARGETS = {
    **cold_start.TARGETS,
    **warm.TARGETS,
    **authorization.TARGETS,
    **bundle_size.TARGETS,
    **contract_scale.TARGETS,
    **local_stage.TARGETS,
    **ENGINE_TARGETS,  # bench/engine_scale.py: create latency ratio and RSS as the table grows
    **LIST_TARGETS,  # bench/engine_list.py: a listUsers page at 10,000 users vs 100
}


@dataclasses.dataclass(frozen=True)
class Counts:
    cold_runs: int = 41  # 21 left the best-round ratio anywhere in 1.17x-1.40x over five runs of one commit
    warm_pairs: int = 1000  # POST + GET each: 2,000 invocations of each handler
    warm_block: int = 100
    auth_rounds: int = 30  # app builds + first GET per contract (bench/auth_pairs.py)
    auth_pairs: int = 2000  # POST + GET pairs per contract, after auth_warmup discarded ones
    auth_warmup: int = 100
    local_journeys: int = 100
    local_rounds: int = 3
    health_requests: int = 500
    engine_sizes: tuple[int, ...] = ENGINE_SIZES  # users in the engine's table (bench/engine_scale.py)
    engine_creates: int = ENGINE_CREATES  # timed creates at each size
    list_sizes: tuple[int, ...] = LIST_SIZES  # users per table for the listing row (bench/engine_list.py)
    list_pages: int = LIST_PAGES  # timed pages per size
    scale_runs: int = 7  # fresh processes per synthetic contract size (bench/contract_scale.py)


TINY = Counts(
    cold_runs=1,
    warm_pairs=4,
    warm_block=2,
    auth_rounds=1,
    auth_pairs=4,
    auth_warmup=1,
    local_journeys=3,
    local_rounds=1,
    health_requests=5,
    engine_sizes=(10, 20),
    engine_creates=3,
    list_sizes=(10, 20),
    list_pages=3,
    scale_runs=1,
)


def _cold(report_: dict[str, Any], source: Source, plain: Source | None, runs: int) -> None:
    """Ours and the baseline; from a bundle, also ours without bytecode and with the layer."""
    variants = {"baseline": (source, BASELINE), "ours": (source, OURS)}
    if plain is not None:
        variants["ours_no_pyc"] = (plain, OURS)
        layer, layer_pyc, report_["sources"]["layer"] = layer_sources()
        variants["ours_layer"] = (layer, OURS)
        variants["ours_layer_pyc"] = (layer_pyc, OURS)
    cold = report_["cold_start"] = cold_start.cold_start(variants, runs)
    report_["figures"].update(cold_start.figures(cold))


def _scale(report_: dict[str, Any], source: Source, runs: int) -> None:
    scale = report_["contract_scale"] = contract_scale.contract_scale(
        {"ours": source},
        # No DynamoDB call: the health check's repository is a stand-in that answers at once.
        lambda src: lambda_environment(src, f"http://{HOST}:{free_port()}", "unused"),
        runs,
        log=log,
    )
    report_["figures"].update(contract_scale.figures(scale))


def run(
    counts: Counts = Counts(),
    *,
    use_bundle: bool = True,
    only: Sequence[str] = FAMILIES,
    report_file: Path | None = REPORT_FILE,
) -> dict[str, Any]:
    unknown = [name for name in only if name not in FAMILIES]
    if unknown:  # before anything is built: a misspelt family would otherwise just be left out
        raise ValueError(f"unknown bench families {', '.join(unknown)} (the families: {', '.join(FAMILIES)})")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"figures": {}, "targets": TARGETS, "counts": dataclasses.asdict(counts)}
    plain: Source | None
    if use_bundle:
        source, plain, result["sources"] = bundle_sources()
    else:
        source, plain = checkout_source(), None
        result["sources"] = {"checkout": str(ROOT)}
    compile_baseline(source.python)
    started = time.time()
    if "cold" in only:
        _cold(result, source, plain, counts.cold_runs)
    if "warm" in only:
        result["warm"] = warm.warm(source, counts.warm_pairs, counts.warm_block)
        result["figures"].update(warm.figures(result["warm"]))
    if "auth" in only:
        added = result["authorization"] = authorization.authorization(
            source, counts.auth_rounds, counts.auth_pairs, counts.auth_warmup
        )
        result["figures"].update(authorization.figures(added))
    if "bundle" in only:
        result["bundle"] = bundle_size.bundle_size()
        result["figures"].update(bundle_size.figures(result["bundle"]))
    if "scale" in only:
        _scale(result, source, counts.scale_runs)
    if "local" in only:
        stage = result["local_stage"] = local_stage.local_stage(
            counts.local_journeys, counts.local_rounds, counts.health_requests
        )
        result["figures"].update(local_stage.figures(stage))
    if "engine" in only:
        scale = result["engine_scale"] = engine_scale(counts.engine_sizes, counts.engine_creates, log=log)
        result["figures"]["engine_create_ratio"] = scale["create_ratio"]
        result["figures"]["engine_rss_mb"] = scale["rss_mb_at_largest"]
        listed = result["engine_list"] = list_scale(counts.list_sizes, counts.list_pages, log=log)
        result["figures"]["engine_list_ratio"] = listed["list_ratio"]
    return report.finish(result, report_file, started)
