"""One direction per layer: no import circle in ``monitor`` and no import from a higher layer.

Every import statement counts, wherever it stands: at the top, inside a function (a deferred
import still ties the two modules together) and under ``TYPE_CHECKING``. The layers, lowest first,
are ``LAYERS``; a module may import its own layer and the layers below it, never one above.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "monitor"
PACKAGE_INIT = "__init__"
"""The unit name of the package's own ``__init__`` (``import monitor``, ``monitor.__version__``)."""

LAYERS: tuple[tuple[str, ...], ...] = (
    # the root of the error tree: it imports nothing
    ("errors",),
    # pure model and leaf helpers: they import nothing of monitor but the domain
    ("domain", "secrets", "eventloop", "loopwatch", "schemas", PACKAGE_INIT),
    # the topic contract and the plumbing every service shares
    ("codec", "bus", "metrics", "runtime", "view"),
    # the services: processor, alerts, ingest and the venue parsers (and the exchange simulator)
    ("processor", "alerts", "ingest", "venues", "sim"),
    # what configures or exercises the services (and the Alertmanager bridge), below the wiring
    ("config", "fuzzing", "alertmanager"),
    # the wiring of a running monitor: build_engine, run_processor, run_ingest, run_pipeline
    ("app",),
    # users of the wiring: the live view, the crash test and its verifier
    ("live", "reliability"),
    # one module per sub-command
    ("commands",),
    # the command line itself
    ("cli", "__main__"),
)


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of ``path`` under ``root`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _source(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a ``from ... import`` statement reads from, relative imports resolved."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    prefix = ".".join(base[: len(base) - node.level + (1 if is_package else 0)])
    return f"{prefix}.{node.module}" if node.module else prefix


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Every module of ``root/package`` and the modules of the package each one imports."""
    paths = {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in paths)
            elif isinstance(node, ast.ImportFrom):
                source = _source(node, module, path.name == "__init__.py")
                named = [f"{source}.{alias.name}" for alias in node.names]
                # ``from a import b``: the module a.b when there is one, else a name defined in a
                targets.update(name for name in named if name in paths)
                if source in paths and any(name not in paths for name in named):
                    targets.add(source)
        targets.discard(module)
        graph[module] = targets
    return graph


def unit_of(module: str) -> str:
    """The layer unit of a module: ``monitor.processor.runner`` -> ``processor``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE_INIT


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles of ``graph``: each strongly connected component with more than one member
    (Tarjan's algorithm), members sorted; [] when the graph has no circle."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = lowest[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                lowest[node] = min(lowest[node], lowest[target])
            elif target in on_stack:
                lowest[node] = min(lowest[node], index[target])
        if lowest[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def unit_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """The module graph folded onto layer units (``processor`` -> ``alerts``), without self-edges."""
    units: dict[str, set[str]] = {}
    for module, targets in graph.items():
        edges = units.setdefault(unit_of(module), set())
        edges.update(unit_of(target) for target in targets if unit_of(target) != unit_of(module))
    return units


def upward_imports(graph: Mapping[str, Iterable[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    """Each import of a module from a higher layer, as ``importer -> imported (layer i -> j)``."""
    level = {unit: number for number, layer in enumerate(layers) for unit in layer}
    found = []
    for module in sorted(graph):
        for target in sorted(graph[module]):
            low, high = level[unit_of(module)], level[unit_of(target)]
            if high > low:
                found.append(f"{module} -> {target} (layer {low} imports layer {high})")
    return found


GRAPH = import_graph(ROOT, PACKAGE)


def test_the_walk_sees_the_package_and_its_imports() -> None:
    """The graph holds the modules and the known imports, so the checks cannot pass vacuously."""
    assert len(GRAPH) > 60
    assert "monitor.processor.runner" in GRAPH["monitor.app"]
    assert "monitor.codec" in GRAPH["monitor.ingest.bus_sink"]
    assert "monitor.metrics" in GRAPH["monitor.processor.runner"]  # under TYPE_CHECKING
    assert "monitor.eventloop" in GRAPH["monitor.commands.crashtest"]  # ``from monitor import eventloop``


def test_every_unit_has_a_layer() -> None:
    """Each package and top-level module of monitor is placed in LAYERS, and LAYERS names no other."""
    placed = [unit for layer in LAYERS for unit in layer]
    assert len(placed) == len(set(placed))
    assert {unit_of(module) for module in GRAPH} == set(placed)


def test_no_import_circle_between_modules() -> None:
    """No module reaches itself through its imports (deferred and type-only imports included)."""
    assert cycles(GRAPH) == []


def test_no_import_circle_between_units() -> None:
    """No package reaches itself through another (a circle of packages even if no module circle)."""
    assert cycles(unit_graph(GRAPH)) == []


def test_no_import_from_a_higher_layer() -> None:
    """domain <- codec/bus <- processor/alerts/ingest/venues <- config <- app <- live/reliability <-
    commands <- cli: nothing imports upwards."""
    assert upward_imports(GRAPH, LAYERS) == []


def test_reliability_does_not_import_the_commands() -> None:
    """The crash test and its verifier are library code: the commands call them, never the reverse."""
    imported = {target for module, targets in GRAPH.items() if unit_of(module) == "reliability"
                for target in targets}
    assert {target for target in imported if unit_of(target) in ("commands", "cli")} == set()


def test_ingest_does_not_import_the_processor() -> None:
    """Ingest and processor meet only in the topic contract (monitor.codec: events, dead letters)."""
    imported = {target for module, targets in GRAPH.items() if unit_of(module) == "ingest"
                for target in targets}
    assert {target for target in imported if unit_of(target) == "processor"} == set()


# --- the checks themselves, on a package written for the purpose -------------------------------


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
def sample(tmp_path: Path) -> dict[str, set[str]]:
    """A package ``pkg`` with a deferred circle, a type-only import, relative and aliased imports."""
    _write(tmp_path, {
        "pkg/__init__.py": '__version__ = "1"\n',
        "pkg/low/__init__.py": "",
        "pkg/low/model.py": "import math\n",
        "pkg/mid/__init__.py": "from pkg.mid.service import run\n",
        "pkg/mid/service.py": (
            "from typing import TYPE_CHECKING\nfrom pkg.low import model\n"
            "if TYPE_CHECKING:\n    from pkg.top import command\n"
            "def run():\n    from pkg.top.command import main\n    return main\n"),
        "pkg/mid/helper.py": "from . import service\nfrom .service import run as go\n",
        "pkg/top/__init__.py": "",
        "pkg/top/command.py": (
            "import pkg\nimport pkg.mid.service as service\ndef main():\n    return service\n"),
    })
    return import_graph(tmp_path, "pkg")


def test_the_graph_resolves_every_form_of_import(sample: dict[str, set[str]]) -> None:
    """``from a import module``, relative, aliased, deferred and type-only imports are all edges."""
    assert sample["pkg.mid.service"] == {"pkg.low.model", "pkg.top.command"}
    assert sample["pkg.mid.helper"] == {"pkg.mid.service"}
    assert sample["pkg.mid"] == {"pkg.mid.service"}
    assert sample["pkg.top.command"] == {"pkg", "pkg.mid.service"}
    assert sample["pkg.low.model"] == set()


def test_a_deferred_circle_is_found(sample: dict[str, set[str]]) -> None:
    """service -> command at call time and command -> service at import time is a circle."""
    assert cycles(sample) == [["pkg.mid.service", "pkg.top.command"]]
    assert cycles(unit_graph(sample)) == [["mid", "top"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_an_upward_import_is_found(sample: dict[str, set[str]]) -> None:
    """With low < mid < top, service importing command is upward; command importing service is not."""
    layers = (("low", PACKAGE_INIT), ("mid",), ("top",))
    assert upward_imports(sample, layers) == ["pkg.mid.service -> pkg.top.command (layer 1 imports layer 2)"]
