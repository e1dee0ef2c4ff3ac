"""Checks `make deploy`/`make destroy` run before the CDK CLI: local only, no network, one line on failure.

    python -m infra.preflight STAGE [--deploy] [--sources-only]

Prints nothing and exits 0 when the stage can go ahead; otherwise prints one line (what is missing
and how to provide it) and exits 1; the Makefile turns that line into make's own error line.
Credentials are resolved by botocore's own provider chain (environment, shared files and profiles,
assume-role, web identity, SSO, ...), which builds them without calling AWS; the providers that
would reach the network to load (the container endpoint, the EC2 instance metadata service) and the
one that would run a program (`credential_process`) are taken out of the chain and only checked for
being configured. Whether the credentials are still valid only AWS can say: the CLI finds out.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

NO_CREDENTIALS = (
    "no AWS credentials found (looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
    "~/.aws/credentials, ~/.aws/config): export AWS_PROFILE=<profile> after `aws configure` or "
    "`aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
# Providers (botocore's METHOD names) that reach the network, or run a program, to load credentials.
CONTAINER_PROVIDER = "container-role"
INSTANCE_METADATA_PROVIDER = "iam-role"
PROCESS_PROVIDER = "custom-process"
CONTAINER_VARIABLES = ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def credentials_problem() -> str | None:
    """None when this process's environment and AWS files configure credentials, else the one-line message."""
    from botocore.exceptions import BotoCoreError, PartialCredentialsError, ProfileNotFound
    from botocore.session import Session

    session = Session()
    try:
        resolver: Any = session.get_component("credential_provider")
        process = resolver.get_provider(PROCESS_PROVIDER)
        for name in (CONTAINER_PROVIDER, INSTANCE_METADATA_PROVIDER, PROCESS_PROVIDER):
            resolver.remove(name)
        if resolver.load_credentials() is not None:
            return None
        if any(os.environ.get(name) for name in CONTAINER_VARIABLES):
            return None  # the container provider fetches them from that endpoint when the CLI runs
        if getattr(process, "_credential_process", None):
            return None  # the profile's credential_process yields them when the CLI runs
    except PartialCredentialsError as error:
        return (
            f"incomplete AWS credentials: {_one_line(error)}; "
            "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    except ProfileNotFound:
        profile = session.get_config_variable("profile")
        return (
            f"AWS profile {profile!r} (AWS_PROFILE) is not in ~/.aws/config or ~/.aws/credentials: "
            "create it with `aws configure --profile` or `aws configure sso`, or unset AWS_PROFILE"
        )
    except BotoCoreError as error:
        return f"AWS credentials are misconfigured: {_one_line(error)}"
    return NO_CREDENTIALS


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="local checks before make deploy/destroy")
    parser.add_argument("stage")
    parser.add_argument("--deploy", action="store_true", help="also check what a deploy needs (bytecode)")
    parser.add_argument("--sources-only", action="store_true", help="ship the bundle without bytecode")
    args = parser.parse_args(argv)

    from infra.config import StageError, load_stage

    try:
        config = load_stage(args.stage)
    except StageError as error:
        print(error, file=sys.stderr)
        return 1
    problem = credentials_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if args.deploy and not args.sources_only:
        from infra.bundle import find_interpreter, missing_interpreter_message

        if find_interpreter(config.runtime_version) is None:
            print(missing_interpreter_message(config.runtime_version), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
