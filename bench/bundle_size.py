"""Bundle size: the deploy asset as infra/bundle.py builds it, zipped as the CDK does.

The stage's own platform and runtime (arm64, Python 3.13). Without an interpreter of the runtime's
version here, the asset is sources-only, and the same bundle with this Python's bytecode stands in
for the size of the deployed one (`.pyc` sizes differ little across versions): that figure is judged.
Below it: the same with the Powertools layer, the largest distributions, and how much of the bundle
is the dependencies' `.py` sources.
"""

from __future__ import annotations

import sys
from typing import Any

from bench.common import Row, verdict

TARGETS = {"bundle_zipped_mb": 5.5}


def _mb(size: int) -> float:
    return round(size / 1e6, 2)


def bundle_size(stage: str = "dev") -> dict[str, Any]:
    from infra.bundle import build_bundle, dependency_sources, distribution_sizes, sizes
    from infra.config import load_stage

    config = load_stage(stage)
    architecture = config.settings.lambda_.architecture
    deployed = build_bundle(config.runtime_version, architecture, "auto")
    unzipped, zipped = sizes(deployed.path)
    result: dict[str, Any] = {
        "stage": stage,
        "runtime": config.runtime_version,
        "architecture": architecture,
        "bytecode": deployed.bytecode_version,
        "unzipped_mb": _mb(unzipped),
        "zipped_mb": _mb(zipped),
    }
    if deployed.bytecode_version is None:
        proxy = build_bundle(config.runtime_version, architecture, "auto", python=sys.executable)
        unzipped, zipped = sizes(proxy.path)
        result["with_pyc_proxy"] = {
            "bytecode": proxy.bytecode_version,
            "unzipped_mb": _mb(unzipped),
            "zipped_mb": _mb(zipped),
        }
    # With bytecode (this Python's where the runtime's is missing), as deployed or with the layer.
    python = None if deployed.bytecode_version else sys.executable
    compiled = build_bundle(config.runtime_version, architecture, "auto", python=python)
    layered = build_bundle(config.runtime_version, architecture, "auto", python=python, layer=True)
    result["largest_distributions_mb"] = {
        name: _mb(size) for name, size in list(distribution_sizes(compiled.path).items())[:8]
    }
    result["dependency_sources_zipped_mb"] = _mb(sizes(compiled.path, dependency_sources)[1])
    unzipped, zipped = sizes(layered.path)
    result["with_powertools_layer"] = {"unzipped_mb": _mb(unzipped), "zipped_mb": _mb(zipped)}
    return result


def judged_zipped_mb(size: dict[str, Any]) -> float:
    """The zipped size with bytecode: the deployed bundle's, or its stand-in's."""
    zipped: float = size.get("with_pyc_proxy", size)["zipped_mb"]
    return zipped


def figures(size: dict[str, Any]) -> dict[str, float]:
    return {"bundle_zipped_mb": judged_zipped_mb(size)}


def rows(size: dict[str, Any]) -> list[Row]:
    text = f"{size['zipped_mb']:.2f} MB zipped, {size['unzipped_mb']:.2f} MB unzipped"
    if "with_pyc_proxy" in size:
        proxy = size["with_pyc_proxy"]
        text += f" (sources only; with .pyc: {proxy['zipped_mb']:.2f} / {proxy['unzipped_mb']:.2f} MB)"
    target = TARGETS["bundle_zipped_mb"]
    found: list[Row] = [("bundle", text, f"<= {target} MB zipped", verdict(judged_zipped_mb(size), target))]
    layer = size["with_powertools_layer"]
    largest = ", ".join(f"{name} {mb:.2f}" for name, mb in size["largest_distributions_mb"].items())
    found += [
        (
            "  bundle with the Powertools layer",
            f"{layer['zipped_mb']:.2f} MB zipped, {layer['unzipped_mb']:.2f} MB unzipped",
            "reported",
            "-",
        ),
        ("  bundle: largest distributions (MB zipped)", largest, "reported", "-"),
        (
            "  bundle: the dependencies' .py sources",
            f"{size['dependency_sources_zipped_mb']:.2f} MB zipped",
            "reported",
            "-",
        ),
    ]
    return found
