"""Environments for commands run by the tests."""

from __future__ import annotations

import os
from pathlib import Path


def without_aws(home: Path) -> dict[str, str]:
    """What a shell with no AWS configuration passes a command: PATH and locale, and an empty home
    (no ~/.aws), with no AWS_* variable."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    return {**{key: os.environ[key] for key in keep if key in os.environ}, "HOME": str(home)}
