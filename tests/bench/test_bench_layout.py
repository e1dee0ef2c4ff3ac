"""bench/ reads like its table: one module per figure family, no import circle, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
MAX_LINES = 300


def _bench_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bench":
            if node.module == "bench":
                found |= {alias.name for alias in node.names}
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bench.")}
    return found


def test_no_bench_module_imports_another_in_a_circle() -> None:
    graph = {path.stem: _bench_imports(path) for path in BENCH.glob("*.py")}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", "import circle: " + " -> ".join([*trail, name])
        state[name] = "open"
        for dependency in sorted(graph.get(name, ())):
            visit(dependency, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


def test_the_runner_only_orchestrates_and_no_module_grows_past_300_lines() -> None:
    lengths = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in BENCH.glob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}
    runner = BENCH.joinpath("runner.py").read_text(encoding="utf-8")
    assert "subprocess" not in runner and "statistics" not in runner, "measurements belong in a family module"
