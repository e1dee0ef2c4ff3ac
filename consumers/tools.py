"""Where the project's pinned tools are, and the environment they run in (offline, no telemetry)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "openapi.yaml"
NODE_BIN = ROOT / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent


class ToolMissing(RuntimeError):
    """A pinned tool is not installed: the message says which make target installs it."""


def node_tool(name: str) -> Path:
    path = NODE_BIN / name
    if not path.exists():
        raise ToolMissing(f"{path} is missing: `make node_modules/.installed` (npm ci) installs it")
    return path


def venv_tool(name: str) -> Path:
    path = VENV_BIN / name
    if not path.exists():
        raise ToolMissing(f"{path} is missing: `make install` installs it")
    return path


def tool_env() -> dict[str, str]:
    """The environment for the tools: the venv's Node and scripts first on PATH, telemetry off."""
    return {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "OPTIC_TELEMETRY_LEVEL": "off",  # Optic: no Sentry, no Segment
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
    }


def run_tool(argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A pinned tool, run from the project root with the tools' environment, output captured."""
    return subprocess.run(  # noqa: S603 - the pinned tool with our own arguments
        argv, cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
