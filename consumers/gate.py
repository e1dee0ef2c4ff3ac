"""The breaking-change gate: the contract at a base git ref against the working tree.

    python -m consumers.gate [--base REF | --base-file FILE] [--head-file FILE] [--changelog FILE]

Optic (pinned in package.json, run offline with telemetry off) diffs the two documents and checks
the diff with its breaking-changes ruleset (optic.dev.yml: every rule, whatever the version):
removed operations, response properties or status codes; new required parameters or request
properties; narrowed enums; type changes. Optic keys operations by method and path, so a renamed
operationId, which renames the method of every generated client, is checked here, and so is
security, which Optic does not look at: an operation that needs a scope (or a scheme, or any
credentials) it did not need, or a scheme defined anew, refuses consumers the base let in. So are
the narrowings Optic's rules do not see: a length, size or bound of a request value narrowed, a
request media type or a response header removed. A breaking change passes only when
`info.version`'s major number was raised.

The same diff (Optic's report) becomes a changelog section in Markdown: printed, and written to
--changelog when given (`make breaking` writes reports/contract-changelog.md; `make changelog`
puts it at the top of CHANGELOG.md).

Exit codes: 0 no breaking change (or the major version was raised), 1 breaking, 2 usage or tool
failure.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from consumers.tools import CONTRACT, ROOT, node_tool, run_tool
from service.contract import Operation, load_contract

OPTIC_STANDARD = ROOT / "optic.dev.yml"
CHANGELOG_TITLE = "# Contract changelog"
CONTRACT_PATH_IN_GIT = "openapi.yaml"
_RULE_LINE = re.compile(r"^\s*x \[(?P<rule>[^\]]+)\] (?P<message>.+)$")
_NODE_LINE = re.compile(r"^(?P<indent>\s*)- (?P<node>.+?):\s*(?P<change>added|removed|changed)?\s*$")
_OPERATION_LINE = re.compile(r"^[x✔!]?\s*(?P<operation>(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) \S+):")
# What names the repository, its work tree, index and objects (the part of `git rev-parse
# --local-env-vars` that locates one): a hook or a wrapper running the gate may set them for another
# repository or work tree, and the base must come from the repository holding ROOT's contract. The
# configuration variables (GIT_CONFIG_PARAMETERS, GIT_CONFIG_COUNT...) are kept: CI and `git -c` pass
# safe.directory and the like through them.
REPOSITORY_LOCATION = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_IMPLICIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_PREFIX",
    }
)


class GateError(RuntimeError):
    """The gate could not run (no such ref, tool missing or crashed); not a verdict."""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One breaking change: the operation it touches, the rule and the tool's words."""

    operation: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.operation}: [{self.rule}] {self.message}"


@dataclasses.dataclass(frozen=True)
class Verdict:
    base_version: str
    head_version: str
    findings: tuple[Finding, ...]  # breaking changes, whether or not the major version allows them
    changes: tuple[str, ...]  # every change, one line each (the changelog's body)
    report: str  # Optic's own report, for people

    @property
    def major_raised(self) -> bool:
        return _major(self.head_version) > _major(self.base_version)

    @property
    def passed(self) -> bool:
        return not self.findings or self.major_raised


def _major(version: str) -> int:
    match = re.match(r"\s*v?(\d+)", version)
    if not match:
        raise GateError(f"info.version {version!r} does not start with a major number")
    return int(match.group(1))


def default_base() -> tuple[str, str]:
    """(ref, label): the last release tag (v<major>...) reachable from HEAD, else the merge base of
    HEAD and main."""
    tag = _git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", check=False)
    if tag:
        return tag, f"release tag `{tag}`"
    head = _git("rev-parse", "HEAD", check=False)
    for main in ("origin/main", "main"):
        base = _git("merge-base", "HEAD", main, check=False)
        if base == head and base:
            # On main itself, with no release yet: what is judged is what is not committed.
            return base, (
                f"`{base[:10]}` (HEAD itself: on {main} with no release tag, only uncommitted changes "
                "are compared; BASE=<git ref> compares with an earlier contract)"
            )
        if base:
            return base, f"`{base[:10]}` (merge base of HEAD and {main})"
    raise GateError("no release tag and no merge base with main: give BASE=<git ref>")


def _git(*args: str, check: bool = True) -> str:
    """git in ROOT's repository, whatever repository the environment names (REPOSITORY_LOCATION)."""
    result = subprocess.run(  # noqa: S603 - git with our own arguments
        ["git", *args],  # noqa: S607 - git from PATH, like every developer runs it
        cwd=ROOT,
        env={name: value for name, value in os.environ.items() if name not in REPOSITORY_LOCATION},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        if check:
            raise GateError(f"git {' '.join(args)}: {result.stderr.strip()}")
        return ""
    return result.stdout.strip()


def contract_at(ref: str, directory: Path) -> Path:
    """The contract as it was at `ref`, written into `directory`."""
    text = _git("show", f"{ref}:{CONTRACT_PATH_IN_GIT}")
    path = directory / "base-openapi.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _optic(base: Path, head: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_tool(
        [
            str(node_tool("optic")),
            "diff",
            str(base),
            str(head),
            "--check",
            "--standard",
            str(OPTIC_STANDARD),
            *extra,
        ]
    )


@dataclasses.dataclass
class _Report:
    """Optic's report, read once: the breaking findings and one line per change."""

    findings: list[Finding]
    changes: list[str]


def _read_report(report: str) -> _Report:
    """Optic prints a tree per operation: `- <node>: <change>` lines, indented, with `x [rule] message`
    lines under the node a rule failed on. A removed operation keeps only its own finding (its
    responses and properties go with it)."""
    read = _Report(findings=[], changes=[])
    operation, removed = "(specification)", False
    stack: list[tuple[int, str]] = []
    for line in report.splitlines():
        if heading := _OPERATION_LINE.match(line):
            operation, stack = heading.group("operation"), []
            change = line.split(":", 1)[1].strip()
            removed = change == "removed"
            if change in ("added", "removed", "changed"):
                read.changes.append(f"{operation}: {change}")
        elif rule := _RULE_LINE.match(line):
            finding = Finding(operation, rule.group("rule"), rule.group("message").strip())
            if not removed or not any(f.operation == operation for f in read.findings):
                read.findings.append(finding)
        elif (node := _NODE_LINE.match(line)) and operation != "(specification)" and not removed:
            indent = len(node.group("indent"))
            stack = [(level, name) for level, name in stack if level < indent]
            stack.append((indent, node.group("node")))
            if node.group("change"):
                path = " > ".join([operation, *(name for _, name in stack)])
                read.changes.append(f"{path}: {node.group('change')}")
    return read


def operation_id_renames(base: Path, head: Path) -> list[Finding]:
    """Same method and path, another operationId: every generated client's method is renamed."""
    before = {(op.method, op.path): op.operation_id for op in load_contract(base).operations}
    after = {(op.method, op.path): op.operation_id for op in load_contract(head).operations}
    return [
        Finding(
            f"{method} {path}",
            "prevent renaming an operationId",
            f"operationId {old!r} became {after[(method, path)]!r}",
        )
        for (method, path), old in before.items()
        if (method, path) in after and after[(method, path)] != old
    ]


def _kept_operations(base: Path, head: Path) -> Iterator[tuple[Operation, Operation, str]]:
    """(base's, head's, "METHOD /path") of every operation both contracts have (by method and path)."""
    before = {(op.method, op.path): op for op in load_contract(base).operations}
    for operation in load_contract(head).operations:
        old = before.get((operation.method, operation.path))
        if old is not None:
            yield old, operation, f"{operation.method} {operation.path}"


Requirement = Mapping[str, tuple[str, ...]]


def _covers(head: Requirement, base: Requirement) -> bool:
    """A consumer meeting `base` (its schemes, with those scopes) also meets `head`."""
    return all(name in base and set(scopes) <= set(base[name]) for name, scopes in head.items())


def security_tightenings(base: Path, head: Path) -> list[Finding]:
    """Same method and path, and a consumer the base let in is refused by the head: the operation
    needs authorization it did not need, a scheme it did not name, or a scope it did not require
    (a client holding the old scope lacks the new one). Requirements are alternatives, each a set
    of schemes that must all be met: a consumer meeting a base requirement is refused when no head
    requirement asks for as little (an alternative dropped, two joined into one). A scheme whose
    definition changed (its header, its flow) refuses every consumer using it. Optic's rules do not
    look at security."""
    found: list[Finding] = []
    for old, operation, where in _kept_operations(base, head):
        if operation.needs_auth and not old.needs_auth:
            found.append(
                Finding(where, "prevent requiring authorization", "the operation needs credentials now")
            )
            continue
        if not operation.needs_auth:
            continue
        for requirement in old.security:
            if any(_covers(new, requirement) for new in operation.security):
                continue
            schemes = sorted({name for new in operation.security for name in new} - set(requirement))
            if all(set(new) - set(requirement) for new in operation.security):
                found.append(
                    Finding(
                        where,
                        "prevent requiring a new security scheme",
                        f"now needs {', '.join(schemes)} beside {', '.join(requirement) or 'nothing'}",
                    )
                )
                continue
            scopes = sorted(
                {
                    scope
                    for new in operation.security
                    if set(new) <= set(requirement)
                    for name, wanted in new.items()
                    for scope in wanted
                    if scope not in requirement[name]
                }
            )
            was = ", ".join(scope for scopes in requirement.values() for scope in scopes) or "none"
            found.append(
                Finding(where, "prevent requiring a new scope", f"now needs {', '.join(scopes)} (was {was})")
            )
    return [*found, *_scheme_changes(base, head)]


# What a client relies on in a security scheme's definition.
_SCHEME_FIELDS = ("type", "in", "name", "scheme")


def _scheme_field(scheme: Mapping[str, Any], field: str) -> Any:
    """A field as a client compares it: a header's name and an HTTP scheme case-insensitively."""
    value = scheme.get(field)
    insensitive = field == "scheme" or (field == "name" and scheme.get("in") == "header")
    return value.lower() if insensitive and isinstance(value, str) else value


def _scheme_changes(base: Path, head: Path) -> list[Finding]:
    old, new = load_contract(base).security_schemes, load_contract(head).security_schemes
    found = []
    for name in sorted(old.keys() & new.keys()):
        before, after = old[name], new[name]
        changed = [f for f in _SCHEME_FIELDS if _scheme_field(before, f) != _scheme_field(after, f)]
        flows_before, flows_after = before.get("flows") or {}, after.get("flows") or {}
        changed += [
            f"flows.{flow}.tokenUrl"
            for flow, settings in sorted(flows_before.items())
            if settings.get("tokenUrl") != (flows_after.get(flow) or {}).get("tokenUrl")
        ]
        if changed:
            found.append(
                Finding(f"securitySchemes.{name}", "prevent changing a security scheme", ", ".join(changed))
            )
    return found


# Keywords a request value must stay within, and which way each narrows: "max" lowers, "min" raises.
_NARROWING = {
    "maxLength": "max",
    "maximum": "max",
    "maxItems": "max",
    "maxProperties": "max",
    "minLength": "min",
    "minimum": "min",
    "minItems": "min",
    "minProperties": "min",
}


def _narrowed(before: Mapping[str, Any], after: Mapping[str, Any], where: str) -> Iterator[str]:
    """What of `after` (a request schema) refuses values `before` accepted, property by property
    and into an array's items."""
    for keyword, way in _NARROWING.items():
        old, new = before.get(keyword), after.get(keyword)
        if new is None or not isinstance(new, int | float) or isinstance(new, bool):
            continue
        if old is None or (new < old if way == "max" else new > old):
            yield f"{where}{keyword} {'added' if old is None else f'{old} → {new}'}"
    for keyword in ("exclusiveMaximum", "exclusiveMinimum"):  # draft 4's flags: on excludes the bound
        if after.get(keyword) is True and before.get(keyword) is not True:
            yield f"{where}{keyword} turned on"
    if after.get("multipleOf") is not None and after.get("multipleOf") != before.get("multipleOf"):
        yield f"{where}multipleOf {before.get('multipleOf')} → {after['multipleOf']}"
    properties_before = before.get("properties") or {}
    for name, schema in (after.get("properties") or {}).items():
        if name in properties_before and isinstance(schema, Mapping):
            yield from _narrowed(properties_before[name], schema, f"{where}{name}: ")
    items_before, items_after = before.get("items"), after.get("items")
    if isinstance(items_before, Mapping) and isinstance(items_after, Mapping):
        yield from _narrowed(items_before, items_after, f"{where}items: ")


def request_narrowings(base: Path, head: Path) -> list[Finding]:
    """Same method and path, and a request the base accepted is refused, or an answer's header a
    client reads is gone: a length, size or bound narrowed (or added) on a parameter or a request
    property, a request media type dropped, a response header removed. Optic's rules look at
    enums, types and required-ness, not at these. A changed `pattern` is listed as a change, not
    judged: whether it narrows cannot be told from the two expressions."""
    found: list[Finding] = []
    for old, operation, where in _kept_operations(base, head):
        old_parameters = {(p.location, p.name): p for p in old.parameters}
        for parameter in operation.parameters:
            previous = old_parameters.get((parameter.location, parameter.name))
            if previous is not None:
                label = f"{parameter.location} parameter {parameter.name}: "
                found += [
                    Finding(where, "prevent narrowing a request value", text)
                    for text in _narrowed(previous.schema, parameter.schema, label)
                ]
        if old.body is not None:
            kept = operation.body.media_types if operation.body is not None else ()
            for media_type in old.body.media_types:
                if media_type not in kept:
                    found.append(Finding(where, "prevent removing a request media type", media_type))
                    continue
                assert operation.body is not None
                found += [
                    Finding(where, "prevent narrowing a request value", text)
                    for text in _narrowed(
                        old.body.schemas.get(media_type) or {},
                        operation.body.schemas.get(media_type) or {},
                        f"body {media_type}: ",
                    )
                ]
        for status, response in old.responses.items():
            now = operation.responses.get(status)
            if now is None:
                continue
            names = {header.lower() for header in now.headers}
            gone = [header for header in response.headers if header.lower() not in names]
            found += [
                Finding(where, "prevent removing a response header", f"{status} response header {header}")
                for header in gone
            ]
    return found


def compare(base: Path, head: Path) -> Verdict:
    """Diff and check two contract files (one Optic run)."""
    checked = _optic(base, head)
    report = "\n".join(
        line for line in (checked.stdout + checked.stderr).strip().splitlines() if "--web" not in line
    )
    read = _read_report(checked.stdout)
    if checked.returncode not in (0, 1) or (checked.returncode == 1) != bool(read.findings):
        raise GateError(
            f"optic diff exited {checked.returncode}, naming {len(read.findings)} rule(s):\n{report}"
        )
    base_contract, head_contract = load_contract(base), load_contract(head)
    own = [
        *operation_id_renames(base, head),
        *security_tightenings(base, head),
        *request_narrowings(base, head),
    ]
    changes = [*read.changes, *(f"{finding.operation}: {finding.message}" for finding in own)]
    if base_contract.version != head_contract.version:
        changes.insert(0, f"info.version: {base_contract.version} → {head_contract.version}")
    return Verdict(
        base_version=base_contract.version,
        head_version=head_contract.version,
        findings=tuple([*read.findings, *own]),
        changes=tuple(changes),
        report=report,
    )


def changelog_section(verdict: Verdict, base_label: str) -> str:
    """One Markdown section for CHANGELOG.md, from the same diff the gate judged."""
    lines = [
        f"## {verdict.head_version} (contract, compared with {base_label} at {verdict.base_version})",
        "",
    ]
    if not verdict.changes:
        lines += ["No change to the contract's operations.", ""]
        return "\n".join(lines)
    if verdict.findings:
        lines += ["### Breaking", ""]
        lines += [f"- {finding}" for finding in verdict.findings]
        lines.append("")
    lines += ["### Changes", ""]
    lines += [f"- {change}" for change in verdict.changes]
    lines.append("")
    return "\n".join(lines)


def put_section_first(changelog: Path, section: str) -> None:
    """Insert `section` at the top of the changelog, replacing a section for the same version."""
    text = changelog.read_text(encoding="utf-8") if changelog.exists() else CHANGELOG_TITLE + "\n"
    heading = section.splitlines()[0]
    version = heading.split(" ", 2)[1]
    parts = re.split(r"(?m)^(?=## )", text)
    head, sections = parts[0], [p for p in parts[1:] if p.split(" ", 2)[1] != version]
    changelog.write_text(
        head.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n\n" + "".join(sections), encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--base", help="git ref of the base contract (default: last v* tag, else merge base with main)"
    )
    source.add_argument("--base-file", type=Path, help="a base contract file instead of a git ref")
    parser.add_argument(
        "--head-file", type=Path, default=CONTRACT, help="the changed contract (default: the working tree's)"
    )
    parser.add_argument("--changelog", type=Path, help="write the changelog section to this file")
    parser.add_argument(
        "--update-changelog", type=Path, help="put the section at the top of this CHANGELOG.md"
    )
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="contract-gate-") as scratch:
            if args.base_file:
                base, label = args.base_file, str(args.base_file)
            else:
                ref, label = (args.base, f"`{args.base}`") if args.base else default_base()
                base = contract_at(ref, Path(scratch))
            print(f"contract gate: {label} → {args.head_file}", flush=True)
            verdict = compare(base, args.head_file)
    except GateError as error:
        print(f"contract gate: cannot run: {error}", file=sys.stderr)
        return 2
    print(verdict.report)
    section = changelog_section(verdict, label)
    for target in (args.changelog,):
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(section, encoding="utf-8")
    if args.update_changelog:
        put_section_first(args.update_changelog, section)
    print()
    print(section)
    if not verdict.findings:
        print("contract gate: PASS, no breaking change")
        return 0
    if verdict.major_raised:
        print(f"contract gate: PASS, {len(verdict.findings)} breaking change(s) under a new major version")
        return 0
    major = _major(verdict.head_version)
    print(
        f"contract gate: FAIL, {len(verdict.findings)} breaking change(s), info.version's major is {major}:"
    )
    for finding in verdict.findings:
        print(f"  - {finding}")
    print("Keep the old behaviour, or raise info.version's major number (and tell the consumers).")
    return 1


if __name__ == "__main__":
    sys.exit(main())
