"""SnapStart runtime hooks (prod: `lambda.snapstart: true`).

With SnapStart, Lambda runs the function's init once, when a version is published, snapshots the
execution environment, and then restores that snapshot for every new environment, maybe hours
later and many times over. So what init made is shared and as old as the version:

- values read during init (the SSM settings) are as old as the snapshot: after a restore, the
  settings are read again, and the SSM values whose cache (`ssm_max_age_seconds`) expired are
  fetched; the app is rebuilt only if a setting changed. The SSM client's timeouts and attempts
  (service.settings.SSM_LIMITS) keep that read well inside HOOKS_SECONDS, and a read that fails
  is logged and leaves the snapshot's settings in force;
- connections opened during init (the SSM client's, any of the DynamoDB client's) point at
  sockets of the snapshotting machine: they are dropped before the snapshot and again after a
  restore, and the next call opens its own;
- nothing unique is made during init (ids, keys and tokens are made per request with
  `uuid4`/`secrets`, from the OS's entropy); the `random` module's state, which libraries such as
  botocore (retry jitter) draw from, would be the same in every restored environment: it is
  seeded again from the OS after a restore.

The hooks are registered with `snapshot_restore_py`, which the managed Python runtime (3.12+)
provides; where it is absent (locally, in tests that do not install it) registering is a no-op.
The runtime runs the before-snapshot hooks in reverse order of registration, the after-restore
hooks in order; both, with the runtime's own loading, must finish within 10 seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

Hook = Callable[[], None]
# What the runtime gives the hooks (with its own loading) before it fails the restore.
HOOKS_SECONDS = 10.0

try:
    import snapshot_restore_py as _runtime
except ImportError:  # not in the managed runtime: nothing will snapshot or restore this process
    _runtime = None


def register_before_snapshot(hook: Hook) -> Hook:
    """Run `hook` before Lambda snapshots the initialised environment (a no-op outside Lambda)."""
    if _runtime is not None:
        _runtime.register_before_snapshot(hook)
    return hook


def register_after_restore(hook: Hook) -> Hook:
    """Run `hook` when an environment is restored from the snapshot (a no-op outside Lambda)."""
    if _runtime is not None:
        _runtime.register_after_restore(hook)
    return hook


def close_connections(clients: list[Any]) -> None:
    """Drop the pooled connections of botocore clients; each opens a new one on its next call."""
    for client in clients:
        client.close()


def reseed() -> None:
    """A restored environment's own random state, from the OS (not the snapshot's)."""
    random.seed()


__all__ = [
    "HOOKS_SECONDS",
    "close_connections",
    "register_after_restore",
    "register_before_snapshot",
    "reseed",
]
