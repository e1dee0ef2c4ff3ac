"""Checks `make deploy`/`make destroy` run before the CDK CLI: local only, no network, one line on failure.

    python -m infra.preflight STAGE [--deploy] [--sources-only]

Prints nothing and exits 0 when the stage can go ahead; otherwise prints one line (what is missing
and how to provide it) and exits 1; the Makefile turns that line into make's own error line.
Credentials are looked for where the AWS SDKs look, without calling AWS: environment variables,
the shared config/credentials files, a named profile, web identity and container credentials.
Whether they are still valid only AWS can say: the CLI finds out.
"""

from __future__ import annotations

import argparse
import configparser
import os
import sys
from collections.abc import Mapping
from pathlib import Path

# Settings in a profile that yield credentials without a key pair in the file.
_PROFILE_SOURCES = (
    "aws_access_key_id",
    "credential_process",
    "sso_session",
    "sso_start_url",
    "role_arn",
    "web_identity_token_file",
    "login_session",
)
NO_CREDENTIALS = (
    "no AWS credentials found (looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
    "~/.aws/credentials, ~/.aws/config): export AWS_PROFILE=<profile> after `aws configure` or "
    "`aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return configparser.ConfigParser(interpolation=None)
    return parser


def credentials_problem(environ: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    """None when credentials are configured locally, else the one-line message."""
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME", str(Path.home()))) if home is None else home
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return None
    if environ.get("AWS_ACCESS_KEY_ID") or environ.get("AWS_SECRET_ACCESS_KEY"):
        return "incomplete AWS credentials: set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        return None
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    ):
        return None
    credentials = _read(Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"))
    config = _read(Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config"))
    profile = environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE") or "default"
    sections = [
        credentials[profile] if credentials.has_section(profile) else None,
        config[f"profile {profile}"] if config.has_section(f"profile {profile}") else None,
        config[profile] if profile == "default" and config.has_section("default") else None,
    ]
    if any(section is not None and any(section.get(key) for key in _PROFILE_SOURCES) for section in sections):
        return None
    if profile != "default" and all(section is None for section in sections):
        return (
            f"AWS profile {profile!r} (AWS_PROFILE) is not in ~/.aws/config or ~/.aws/credentials: "
            "create it with `aws configure --profile` or `aws configure sso`, or unset AWS_PROFILE"
        )
    return NO_CREDENTIALS


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
