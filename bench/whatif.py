"""The what-if rows of `make bench`: our handler with connexion as the upstream patches make it.

The patched connexion (bench/upstream.py: the 3.3.0 wheel, docs/upstream/connexion/patches
applied, compiled like the bundle) goes first on the child's path, in front of the bundle's own
connexion; everything else is the bundle, unchanged. It lives in build/upstream/ and is never
shipped, so the effect of upstreaming is a measured number, not a guess.

Cold start (in the same shuffled rounds as the baseline and ours, so the ratios are of one run):
- `ours_whatif` (with `cold` or `whatif`): the three patches, and the service opting out of
  connexion's spec validation (bench/whatif_opt_out.patch stands for service/app.py passing
  `validate_spec=False`; 0002 only adds the switch). Target: <= 1.45x the baseline.
- with `--only whatif`, one variant per patch as well, to attribute the gain.

Warm (`--only whatif` only): ours with stock connexion against ours with the patched copy, in
alternating blocks against the canned DynamoDB endpoint; the difference is the per-request
effect of 0003 (and of 0001's context proxy replacing werkzeug's).
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from upstream.patches import PATCHES, Patch, patched_copy

if TYPE_CHECKING:
    from bench.common import Source

OPT_OUT = Path(__file__).resolve().with_name("whatif_opt_out.patch")
TARGET = 1.45
HEADLINE = "ours_whatif"
PER_PATCH = {f"ours_whatif_{patch.number}": patch for patch in PATCHES}
WHATIF_ALL_PATCHES = "ours_whatif_patches_only"  # the three patches, validation left on


def _with_copy(source: Source, copy: Path, label: str) -> Source:
    return dataclasses.replace(source, name=f"{source.name}+{label}", sys_path=(str(copy), *source.sys_path))


def _copy_for(patches: tuple[Patch, ...], *, opt_out: bool) -> Path:
    """The copy with `patches`, plus the service's opt-out where 0002 is among them."""
    extra = (OPT_OUT,) if opt_out and any(p.number == "0002" for p in patches) else ()
    label = "+".join(p.number for p in patches) + ("+opt-out" if extra else "")
    return patched_copy(patches, extra=extra, name=label)


def headline_source(source: Source) -> Source:
    """`source` with connexion as the three patches and the service's opt-out make it."""
    return _with_copy(source, _copy_for(PATCHES, opt_out=True), "patched-connexion")


def cold_variants(source: Source, module: str, *, each: bool) -> dict[str, tuple[Source, str]]:
    """The what-if variants of the cold-start measurement (all patches; with `each`, one by one)."""
    variants = {HEADLINE: (_with_copy(source, _copy_for(PATCHES, opt_out=True), "patched-connexion"), module)}
    if each:
        only_patches = _copy_for(PATCHES, opt_out=False)
        variants[WHATIF_ALL_PATCHES] = (_with_copy(source, only_patches, "patches-only"), module)
        for name, patch in PER_PATCH.items():
            copy = _copy_for((patch,), opt_out=True)
            variants[name] = (_with_copy(source, copy, f"connexion-{patch.number}"), module)
    return variants


def cold_figures(cold: dict[str, Any]) -> dict[str, float]:
    """Ratios to the baseline and savings against ours (medians of the same rounds)."""
    base, ours = cold["baseline"]["total_ms"], cold["ours"]["total_ms"]
    figures: dict[str, float] = {}
    for name in (HEADLINE, WHATIF_ALL_PATCHES, *PER_PATCH):
        if name in cold:
            total = cold[name]["total_ms"]
            suffix = name.removeprefix("ours_whatif")
            figures[f"cold_start_whatif{suffix}_ratio"] = round(total["median"] / base["median"], 3)
            # Fastest round of each side: on a busy machine, the least disturbed estimate.
            figures[f"cold_start_whatif{suffix}_best_ratio"] = round(total["min"] / base["min"], 3)
            figures[f"cold_start_whatif{suffix}_saving_ms"] = round(ours["median"] - total["median"], 1)
    return figures


LABELS = {
    HEADLINE: "cold start, what-if: connexion with the 3 upstream patches + opt-out",
    WHATIF_ALL_PATCHES: "  what-if: the 3 patches, spec validation left on",
    **{
        name: f"  what-if: {patch.number} alone ({patch.name}{' + opt-out' * (patch.number == '0002')})"
        for name, patch in PER_PATCH.items()
    },
}


def rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The what-if lines of the bench table."""
    found: list[tuple[str, str, str, str]] = []
    cold = report.get("cold_start") or {}
    figures = report.get("figures", {})
    for name, label in LABELS.items():
        if name not in cold:
            continue
        suffix = name.removeprefix("ours_whatif")
        ratio = figures[f"cold_start_whatif{suffix}_ratio"]
        best = figures[f"cold_start_whatif{suffix}_best_ratio"]
        saving = figures[f"cold_start_whatif{suffix}_saving_ms"]
        median = cold[name]["total_ms"]["median"]
        measured = f"{median:.0f} ms = {ratio:.2f}x (best round {best:.2f}x), {saving:.0f} ms less than ours"
        if name == HEADLINE:
            found.append((label, measured, f"<= {TARGET}x", "met" if ratio <= TARGET else "MISSED"))
        else:
            found.append((label, measured, "reported", "-"))
    warm = report.get("whatif_warm")
    if warm:
        found.append(
            (
                "  what-if: warm, per request, patched vs stock connexion",
                f"{warm['saving_ms']['mixed']:+.3f} ms saved (POST {warm['saving_ms']['POST']:+.3f}, "
                f"GET {warm['saving_ms']['GET']:+.3f})",
                "reported",
                "-",
            )
        )
    return found


def warm_effect(source: Source, module: str, pairs: int, block: int) -> dict[str, Any]:
    """Per-request time of ours with stock vs patched connexion, alternating blocks (block 0 dropped)."""
    from bench.common import summary
    from bench.fake_dynamodb import USER_ID
    from bench.sources import lambda_environment
    from bench.warm import HandlerProcess, fake_dynamodb, interleaved_blocks

    patched = _with_copy(source, _copy_for(PATCHES, opt_out=True), "patched-connexion")
    sources = {"stock": source, "patched": patched}
    with fake_dynamodb() as endpoint:
        processes = {
            name: HandlerProcess(src, module, lambda_environment(src, endpoint, USER_ID))
            for name, src in sources.items()
        }
        try:
            timings = interleaved_blocks(processes, pairs, block)
        finally:
            for process in processes.values():
                process.close()
    medians = {name: {m: statistics.median(v) for m, v in by.items()} for name, by in timings.items()}
    saving = {m: round(medians["stock"][m] - medians["patched"][m], 4) for m in ("POST", "GET")}
    saving["mixed"] = round(statistics.fmean(saving.values()), 4)
    return {
        "per_request_ms": {
            name: {method: summary(values) for method, values in by_method.items()}
            for name, by_method in timings.items()
        },
        "saving_ms": saving,
    }
