"""The typed Python client: generated from the contract by openapi-python-client, built into a wheel.

    python -m consumers.client [--out clients/python] [--dist clients/dist]

Generation must give zero warnings: a warning means part of the contract has no client code (an
operation or a schema skipped), so it fails here and the contract is what gets fixed. The wheel is
built by the pinned uv-build backend without build isolation, so nothing is fetched.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from consumers.tools import CONTRACT, ROOT, VENV_BIN, tool_env, venv_tool

CONFIG = ROOT / "clients" / "openapi-python-client.yaml"
OUT = ROOT / "clients" / "python"
DIST = ROOT / "clients" / "dist"
PACKAGE = "users_api_client"


class GenerationFailed(RuntimeError):
    """The generator warned or failed; the message holds its output."""


def generate(out: Path = OUT, contract: Path = CONTRACT) -> Path:
    """Generate the client project into `out` (replaced), failing on any warning."""
    if out.exists():
        shutil.rmtree(out)
    result = subprocess.run(  # noqa: S603 - the pinned generator with our own arguments
        [
            str(venv_tool("openapi-python-client")),
            "generate",
            "--path",
            str(contract),
            "--config",
            str(CONFIG),
            "--meta",
            "uv",
            "--output-path",
            str(out),
            "--fail-on-warning",
        ],
        cwd=ROOT,
        env=tool_env(),  # its post-hooks run the venv's ruff
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "warning" in output.lower():
        raise GenerationFailed(f"openapi-python-client exited {result.returncode}:\n{output}")
    shutil.rmtree(out / ".ruff_cache", ignore_errors=True)
    return out


def build_wheel(project: Path = OUT, dist: Path = DIST) -> Path:
    """Build the generated project's wheel into `dist` (offline: the backend is pinned in the venv)."""
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob(f"{PACKAGE}-*.whl"):
        old.unlink()
    result = subprocess.run(  # noqa: S603 - the venv's pip with our own arguments
        [
            str(VENV_BIN / "python"),
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(dist),
            str(project),
        ],
        cwd=ROOT,
        env=tool_env(),  # uv_build's backend finds its binary on PATH
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    wheels = sorted(dist.glob(f"{PACKAGE}-*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        raise GenerationFailed(
            f"building the wheel failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return wheels[0]


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--dist", type=Path, default=DIST)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        project = generate(args.out)
        wheel = build_wheel(project, args.dist)
    except GenerationFailed as error:
        print(f"client: {error}", file=sys.stderr)
        return 1
    modules = len(list((project / PACKAGE).rglob("*.py")))
    print(f"client: {project} ({modules} modules, {_size(project / PACKAGE) / 1024:.0f} KiB of code)")
    print(f"client: {wheel} ({wheel.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - started:.1f} s")
    print(f"install: pip install {wheel.relative_to(ROOT) if wheel.is_relative_to(ROOT) else wheel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
