"""`python -m bench`'s arguments: which figure families run, refused before anything is measured when
one is not a family."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.__main__ as cli
from bench import runner
from bench.runner import FAMILIES, run


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What `run` was asked for, instead of running it."""
    calls: list[list[str]] = []

    def fake_run(*_: object, only: list[str], **__: object) -> dict[str, str]:
        calls.append(list(only))
        return {"table": ""}

    monkeypatch.setattr(cli, "run", fake_run)
    return calls


@pytest.mark.parametrize("only", ["cold,wram", "bogus", "", ","])
def test_only_refuses_what_is_not_a_family_and_lists_the_families(
    only: str, ran: list[list[str]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--only", only, "--report", str(tmp_path / "bench.json")])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "argument --only" in error
    assert f"the families are {', '.join(FAMILIES)}" in error
    for name in {name for name in only.split(",") if name and name not in FAMILIES}:
        assert repr(name) in error
    assert ran == []


def test_only_passes_the_named_families_and_defaults_to_all(ran: list[list[str]], tmp_path: Path) -> None:
    report = ["--report", str(tmp_path / "bench.json")]
    assert cli.main(["--only", "auth, engine", *report]) == 0
    assert cli.main(report) == 0
    assert ran == [["auth", "engine"], list(FAMILIES)]


def test_run_refuses_an_unknown_family_before_building_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    def built(*_: object) -> None:
        raise AssertionError("nothing is built for an unknown family")

    monkeypatch.setattr(runner, "checkout_source", built)
    monkeypatch.setattr(runner, "bundle_sources", built)
    with pytest.raises(ValueError, match=r"unknown bench families wram \(the families: cold, warm, auth"):
        run(only=("cold", "wram"), use_bundle=False, report_file=None)


def test_the_usage_names_every_family() -> None:
    assert cli.__doc__ is not None
    usage = cli.__doc__.splitlines()[0]
    assert usage.split("--only ")[1].split("]")[0] == ",".join(FAMILIES)
