"""The breaking-change gate on fixture pairs derived from the contract itself.

Each pair is the working tree's contract (base) and one change to it (head), so the fixtures follow
the contract as it grows. Optic runs twice per pair (check and JSON diff), so the pairs are judged
two at a time, once per module.
"""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumers import gate
from consumers.gate import (
    CONTRACT_PATH_IN_GIT,
    Verdict,
    changelog_section,
    compare,
    main,
    put_section_first,
)
from consumers.tools import CONTRACT
from service.contract import get_contract

pytestmark = pytest.mark.consumers

Document = dict[str, Any]


def _operation(document: Document, operation_id: str) -> dict[str, Any]:
    operation = get_contract().operation(operation_id)
    found: dict[str, Any] = document["paths"][operation.path][operation.method.lower()]
    return found


def _remove_response_property(document: Document) -> None:
    user = document["components"]["schemas"]["User"]
    user["properties"].pop("updatedAt")
    user["required"].remove("updatedAt")


def _add_required_parameter(document: Document) -> None:
    _operation(document, "getUser").setdefault("parameters", []).append(
        {"name": "tenant", "in": "query", "required": True, "schema": {"type": "string"}}
    )


def _with_request_enum(document: Document) -> None:
    document["components"]["schemas"]["NewUser"]["properties"]["plan"] = {
        "type": "string",
        "enum": ["free", "pro"],
    }


def _narrow_request_enum(document: Document) -> None:
    document["components"]["schemas"]["NewUser"]["properties"]["plan"]["enum"] = ["free"]


def _remove_operation(document: Document) -> None:
    operation = get_contract().operation("getHealth")
    del document["paths"][operation.path][operation.method.lower()]
    if not any(key for key in document["paths"][operation.path] if key != "parameters"):
        del document["paths"][operation.path]


def _add_optional_property(document: Document) -> None:
    for schema in ("User", "NewUser"):
        document["components"]["schemas"][schema]["properties"]["nickname"] = {
            "type": "string",
            "maxLength": 50,
        }


def _rename_operation_id(document: Document) -> None:
    _operation(document, "getHealth")["operationId"] = "healthCheck"


def _declare_scope(document: Document) -> None:
    """A new scope in the contract's OAuth 2.0 scheme, required by no operation yet."""
    contract = get_contract()
    found = contract.oauth2_scheme
    assert found is not None
    flows = document["components"]["securitySchemes"][found[0]]["flows"]
    identifier = next(iter(contract.scopes)).rsplit("/", 1)[0]
    flows["clientCredentials"]["scopes"][f"{identifier}/users.audit"] = "Read the audit trail."


def _require_new_scope(document: Document) -> None:
    """A read that needed its scope now needs the new one instead."""
    contract = get_contract()
    found = contract.oauth2_scheme
    assert found is not None
    identifier = next(iter(contract.scopes)).rsplit("/", 1)[0]
    for requirement in _operation(document, "getUser")["security"]:
        requirement[found[0]] = [f"{identifier}/users.audit"]


def _narrow_request_length(document: Document) -> None:
    name = document["components"]["schemas"]["NewUser"]["properties"]["name"]
    name["maxLength"] = name["maxLength"] // 2


def _remove_response_header(document: Document) -> None:
    """The ETag of a created user: what a client sends back in If-Match."""
    _operation(document, "createUser")["responses"]["201"]["headers"].pop("ETag")


def _with_a_second_request_media_type(document: Document) -> None:
    content = _operation(document, "createUser")["requestBody"]["content"]
    content["application/vnd.users+json"] = copy.deepcopy(content["application/json"])


def _remove_request_media_type(document: Document) -> None:
    _operation(document, "createUser")["requestBody"]["content"].pop("application/vnd.users+json")


def _api_key_or_token(document: Document) -> None:
    """getUser with two alternatives: the API key alone, or the token alone."""
    operation = _operation(document, "getUser")
    [requirement] = operation["security"]
    operation["security"] = [{name: scopes} for name, scopes in requirement.items()]


def _both_required(document: Document) -> None:
    operation = _operation(document, "getUser")
    operation["security"] = [{name: scopes for r in operation["security"] for name, scopes in r.items()}]


def _rename_api_key_header(document: Document) -> None:
    for scheme in document["components"]["securitySchemes"].values():
        if scheme.get("type") == "apiKey":
            scheme["name"] = "x-consumer-key"


def _recase_headers(document: Document) -> None:
    """Header names differ only in case: the same headers (RFC 9110 5.1)."""
    responses = _operation(document, "createUser")["responses"]["201"]["headers"]
    responses["Etag"] = responses.pop("ETag")
    for scheme in document["components"]["securitySchemes"].values():
        if scheme.get("type") == "apiKey":
            scheme["name"] = scheme["name"].upper()


def _raise_major(document: Document) -> None:
    major = int(str(document["info"]["version"]).split(".")[0])
    document["info"]["version"] = f"{major + 1}.0.0"


Change = Callable[[Document], None]
PAIRS: Mapping[str, tuple[tuple[Change, ...], tuple[Change, ...]]] = {
    # name: (changes applied to base and head alike, changes applied to head only)
    "removed response property": ((), (_remove_response_property,)),
    "new required parameter": ((), (_add_required_parameter,)),
    "narrowed enum": ((_with_request_enum,), (_narrow_request_enum,)),
    "removed operation": ((), (_remove_operation,)),
    "renamed operationId": ((), (_rename_operation_id,)),
    "added optional property": ((), (_add_optional_property,)),
    "new required scope": ((_declare_scope,), (_require_new_scope,)),
    "declared an unused scope": ((), (_declare_scope,)),
    "narrowed request length": ((), (_narrow_request_length,)),
    "removed response header": ((), (_remove_response_header,)),
    "removed request media type": ((_with_a_second_request_media_type,), (_remove_request_media_type,)),
    "two alternatives joined": ((_api_key_or_token,), (_both_required,)),
    "renamed API key header": ((), (_rename_api_key_header,)),
    "header names in another case": ((), (_recase_headers,)),
    "removed property under a new major": ((), (_remove_response_property, _raise_major)),
}


def _write(document: Document, path: Path) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _pair(name: str, directory: Path) -> tuple[Path, Path]:
    shared, head_only = PAIRS[name]
    base: Document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    for change in shared:
        change(base)
    head = copy.deepcopy(base)
    for change in head_only:
        change(head)
    slug = name.replace(" ", "-")
    return _write(base, directory / f"{slug}-base.yaml"), _write(head, directory / f"{slug}-head.yaml")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Verdict]:
    directory = tmp_path_factory.mktemp("gate")
    pairs = {name: _pair(name, directory) for name in PAIRS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(compare, *pair) for name, pair in pairs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize(
    ("pair", "rule", "named"),
    [
        ("removed response property", "prevent removing response property", "updatedAt"),
        ("new required parameter", "prevent new required query parameters", "tenant"),
        ("narrowed enum", "request and response property enums", "'pro'"),
        ("removed operation", "prevent operation removal", "GET /health"),
        ("renamed operationId", "prevent renaming an operationId", "healthCheck"),
        ("new required scope", "prevent requiring a new scope", "users-api/users.audit"),
        ("narrowed request length", "prevent narrowing a request value", "name: maxLength"),
        ("removed response header", "prevent removing a response header", "201 response header ETag"),
        ("removed request media type", "prevent removing a request media type", "application/vnd.users+json"),
        ("two alternatives joined", "prevent requiring a new security scheme", "GET /users/{userId}"),
        ("renamed API key header", "prevent changing a security scheme", "name"),
    ],
)
def test_a_breaking_change_fails_the_gate_and_is_named(
    verdicts: dict[str, Verdict], pair: str, rule: str, named: str
) -> None:
    verdict = verdicts[pair]
    assert not verdict.passed
    findings = "\n".join(map(str, verdict.findings))
    assert any(rule in finding.rule for finding in verdict.findings), findings
    assert named in findings


def test_an_added_optional_property_passes(verdicts: dict[str, Verdict]) -> None:
    verdict = verdicts["added optional property"]
    assert verdict.passed
    assert verdict.findings == ()
    assert any("nickname" in change for change in verdict.changes), verdict.changes


def test_header_names_in_another_case_pass(verdicts: dict[str, Verdict]) -> None:
    assert verdicts["header names in another case"].findings == ()


def test_declaring_a_scope_no_operation_requires_passes(verdicts: dict[str, Verdict]) -> None:
    assert verdicts["declared an unused scope"].passed


def test_a_breaking_change_passes_under_a_new_major_version_and_stays_in_the_changelog(
    verdicts: dict[str, Verdict],
) -> None:
    verdict = verdicts["removed property under a new major"]
    assert verdict.major_raised
    assert verdict.passed
    section = changelog_section(verdict, "`v1`")
    assert section.startswith(f"## {verdict.head_version} ")
    assert "### Breaking" in section
    assert "updatedAt" in section


def test_the_changelog_section_comes_from_the_same_diff(verdicts: dict[str, Verdict], tmp_path: Path) -> None:
    # Given a changelog with an older section
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("# Contract changelog\n\n## 0.9.0 (contract)\n\n- older\n", encoding="utf-8")
    verdict = verdicts["removed response property"]

    # When the gate's section is put first, twice (a re-run replaces its own version's section)
    put_section_first(changelog, changelog_section(verdict, "`main`"))
    put_section_first(changelog, changelog_section(verdict, "`main`"))

    # Then it is at the top, once, above the older one, and names the removed property
    text = changelog.read_text(encoding="utf-8")
    assert text.count(f"## {verdict.head_version} ") == 1
    assert text.index(f"## {verdict.head_version} ") < text.index("## 0.9.0")
    assert "updatedAt: removed" in text


def test_the_command_exits_non_zero_and_names_the_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = _pair("removed response property", tmp_path)
    changelog = tmp_path / "section.md"

    code = main(["--base-file", str(base), "--head-file", str(head), "--changelog", str(changelog)])

    out = capsys.readouterr().out
    assert code == 1
    assert "contract gate: FAIL" in out
    assert "cannot remove response property 'updatedAt'" in out
    assert "updatedAt" in changelog.read_text(encoding="utf-8")


# What the throw-away repository's git runs with besides the process's environment without GIT_*:
# no global or system configuration (hooksPath, signing, templates), and an identity of its own.
ISOLATED_GIT = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


class _Repository:
    """A throw-away git repository holding a copy of the contract: the gate's base comes from git,
    and the suite must not depend on the history (branch names, tags) of the one it runs in, nor on
    the git environment it runs under (a hook's GIT_DIR, a developer's hooks or signing)."""

    def __init__(self, directory: Path, default_branch: str) -> None:
        self.directory = directory
        self.git("init", "--quiet", "--initial-branch", default_branch)

    def git(self, *args: str) -> str:
        env = {name: value for name, value in os.environ.items() if not name.startswith("GIT_")}
        if args[:1] == ("commit",):
            args = ("commit", "--no-verify", *args[1:])
        result = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
            cwd=self.directory,
            env={**env, **ISOLATED_GIT},
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def commit_contract(self, version: str) -> str:
        """Commit the working tree's contract with `info.version` set to `version`; its sha."""
        document: Document = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
        document["info"]["version"] = version
        _write(document, self.directory / CONTRACT_PATH_IN_GIT)
        self.git("add", CONTRACT_PATH_IN_GIT)
        self.git("commit", "--quiet", "-m", f"contract {version}")
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Repository:
    """A new repository whose default branch is not `main`, as an adopter's `git init` may make;
    the gate's git commands run in it."""
    directory = tmp_path / "adopted"
    directory.mkdir()
    monkeypatch.setattr(gate, "ROOT", directory)
    return _Repository(directory, default_branch="trunk")


def _version_at(ref: str, directory: Path) -> str:
    return str(
        yaml.safe_load(gate.contract_at(ref, directory).read_text(encoding="utf-8"))["info"]["version"]
    )


def test_the_base_is_the_last_release_tag(repository: _Repository, tmp_path: Path) -> None:
    # Given a release tag and a later change to the contract
    repository.commit_contract("1.0.0")
    repository.git("tag", "v1.0.0")
    repository.commit_contract("1.1.0")

    # When the gate picks its base
    ref, label = gate.default_base()

    # Then it is the tag, and the contract is read as it was there
    assert (ref, label) == ("v1.0.0", "release tag `v1.0.0`")
    assert _version_at(ref, tmp_path) == "1.0.0"


def test_without_a_tag_the_base_is_the_merge_base_with_main(repository: _Repository, tmp_path: Path) -> None:
    # Given a `main` branch and a branch that moved on from it
    forked = repository.commit_contract("1.0.0")
    repository.git("branch", "main")
    repository.commit_contract("1.1.0")

    ref, label = gate.default_base()

    assert ref == forked
    assert label == f"`{forked[:10]}` (merge base of HEAD and main)"
    assert _version_at(ref, tmp_path) == "1.0.0"


def test_on_main_itself_without_a_tag_the_base_is_head_and_says_so(repository: _Repository) -> None:
    # Given a repository with no release tag, whose HEAD is main's tip
    sha = repository.commit_contract("1.0.0")
    repository.git("branch", "main")

    ref, label = gate.default_base()

    # Then only uncommitted changes are judged, and the label says how to compare with more
    assert ref == sha
    assert "HEAD itself" in label and "BASE=<git ref>" in label


def test_a_new_repository_without_tags_or_main_asks_for_base(repository: _Repository) -> None:
    # Given an adopter's new repository: one commit on `trunk`, no tag, no `main`
    repository.commit_contract("1.0.0")

    # Then the gate cannot guess a base, and says how to give one
    with pytest.raises(gate.GateError, match="BASE=<git ref>"):
        gate.default_base()


def test_a_git_environment_naming_another_repository_changes_nothing_the_gate_sees(
    repository: _Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given another repository with a release of its own, and the environment a hook of it runs in
    (tmp_path / "other").mkdir()
    other = _Repository(tmp_path / "other", default_branch="main")
    other.commit_contract("9.0.0")
    other.git("tag", "v9.0.0")
    monkeypatch.setenv("GIT_DIR", str(other.directory / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other.directory))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other.directory / ".git" / "index"))

    # When the test's repository gets a release and a later change, and the gate picks its base
    repository.commit_contract("1.0.0")
    repository.git("tag", "v1.0.0")
    repository.commit_contract("1.1.0")
    ref, _ = gate.default_base()

    # Then the commits, the tag and the base are the test repository's; the other one is as it was
    assert ref == "v1.0.0"
    assert _version_at(ref, tmp_path) == "1.0.0"
    assert repository.git("rev-list", "--count", "HEAD") == "2"
    assert other.git("tag") == "v9.0.0"
    assert other.git("rev-list", "--count", "HEAD") == "1"


def test_the_developers_git_configuration_does_not_reach_the_test_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a global configuration whose hooks refuse every commit, under another identity
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 1\n", encoding="utf-8")
    (hooks / "pre-commit").chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n[user]\n\tname = someone\n", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    (tmp_path / "repository").mkdir()

    # When the throw-away repository commits
    repository = _Repository(tmp_path / "repository", default_branch="trunk")
    repository.commit_contract("1.0.0")

    # Then no hook ran and the commit is the test's own identity's
    assert (
        repository.git("log", "-1", "--format=%an <%ae> / %cn <%ce>")
        == "t <t@example.com> / t <t@example.com>"
    )


def test_an_explicit_base_ref_is_compared_with_the_working_tree(
    repository: _Repository, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a repository whose first commit is the contract
    first = repository.commit_contract(get_contract().version)

    # When the command is given that commit as base and the working tree's contract as head
    code = main(["--base", first])

    # Then the gate ran against that base and found nothing breaking
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"contract gate: `{first}`" in out
    assert "contract gate: PASS, no breaking change" in out
