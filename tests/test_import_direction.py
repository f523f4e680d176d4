"""Imports run one way: every room of the code imports only rooms at or below its own floor,
and no module reaches itself through its imports.

The rooms, top to bottom (``experiments/*/__init__.py`` say what each holds):

    experiments.benchmarks   timing scripts                    (may import anything)
    experiments.cli          the ``bias-audit`` command
    experiments (api)        ``experiments.run / load / sweep / compare``
    experiments.serve        the local sandbox web app (``bias-audit serve``)
    experiments.sweeps       grids of runs, pooled over seeds
    experiments.engine       one run: runner, worlds, remedies, manifest, output folders
    experiments.reports      run, compare and remedies reports; headlines
    experiments.systems      the adapters and their contract
    experiments.writing      document blocks, country names, the HTML template, claims
    experiments.config       experiment files: models, registry of systems and remedies
    experiments.errors/version
    audit, synthetic         the instrument and the simulated world, which never import
                             experiments nor each other

Every import counts, whether at the top of a module, inside a function or under
``TYPE_CHECKING``: each is a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("audit", "synthetic", "experiments")

#: Floor of each room; a module may import modules on its own floor or below.
FLOORS: dict[str, float] = {
    "experiments.benchmarks": 10,
    "experiments.cli": 9,
    "experiments.api": 8,
    "experiments": 8,  # the package itself: the Python API's lazy front door
    "experiments.serve": 7.5,
    "experiments.sweeps": 7,
    "experiments.engine": 6,
    "experiments.reports": 5,
    "experiments.systems": 4,
    "experiments.writing": 3,
    "experiments.config": 2,
    "experiments.errors": 1,
    "experiments.version": 1,
    "experiments.catalogue": 0,
    "audit": 0,
    "synthetic": 0,
}


def module_name(path: Path) -> str:
    """Dotted name of a source file (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {module_name(p): p for package in PACKAGES
            for p in sorted((ROOT / package).rglob("*.py"))}


def room_of(module: str) -> str:
    """The room a module lives in: the longest key of :data:`FLOORS` that prefixes it."""
    best = ""
    for room in FLOORS:
        if (module == room or module.startswith(room + ".")) and len(room) > len(best):
            best = room
    return best


def imports_of(path: Path, name: str, modules: dict[str, Path]
               ) -> list[tuple[str, list[str], int]]:
    """The project modules a file imports: (module, names taken from it, line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    found.append((alias.name, [], node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] not in PACKAGES:
                continue
            names = [alias.name for alias in node.names]
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            if submodules and len(submodules) == len(names):
                found += [(sub, [], node.lineno) for sub in submodules]
            else:
                found.append((base, names, node.lineno))
    return found


def import_graph() -> dict[str, list[tuple[str, list[str], int]]]:
    modules = source_modules()
    return {name: [(target, names, line) for target, names, line
                   in imports_of(path, name, modules) if target != name]
            for name, path in modules.items()}


def upward_imports(graph: dict[str, list[tuple[str, list[str], int]]]) -> list[str]:
    """Imports from a lower room into a higher one, or between audit and synthetic."""
    wrong = []
    for module, targets in graph.items():
        here = room_of(module)
        for target, _, line in targets:
            there = room_of(target)
            if not here or not there:
                continue
            low_pair = {here, there} == {"audit", "synthetic"}
            if FLOORS[there] > FLOORS[here] or low_pair:
                wrong.append(f"{module} (line {line}, room {here}) imports {target} "
                             f"(room {there})")
    return wrong


def circles(graph: dict[str, list[tuple[str, list[str], int]]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target, _, _ in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, list[str], int]]]:
    return import_graph()


def test_every_module_has_a_room(graph):
    homeless = [m for m in graph if not room_of(m)]
    assert not homeless, f"modules in no room of FLOORS: {homeless}"


def test_imports_run_down(graph):
    wrong = upward_imports(graph)
    assert not wrong, "imports that run up:\n" + "\n".join(wrong)


def test_no_circle_of_imports(graph):
    found = circles(graph)
    assert not found, "circles of imports:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_private_name_crosses_a_module(graph):
    crossing = [f"{module} (line {line}) imports {name} from {target}"
                for module, targets in graph.items() for target, names, line in targets
                for name in names if name.startswith("_") and not name.startswith("__")]
    assert not crossing, "private names imported across modules:\n" + "\n".join(crossing)


def test_the_checks_catch_what_they_forbid():
    """The checks themselves: an upward import, a circle and a private name are each found."""
    graph = {
        "experiments.config.x": [("experiments.engine.y", [], 3)],
        "experiments.engine.y": [("experiments.config.x", ["_hidden"], 5)],
    }
    assert upward_imports(graph) == [
        "experiments.config.x (line 3, room experiments.config) imports experiments.engine.y "
        "(room experiments.engine)"]
    assert circles(graph) == [["experiments.config.x", "experiments.engine.y"]]
    assert room_of("audit.engine") == "audit" and FLOORS["experiments.cli"] > FLOORS["audit"]
