"""The error tree: every project error descends from HedgeMonitorError, as monitor/errors.py draws."""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import monitor
from monitor import errors
from monitor.errors import HedgeMonitorError

ERRORS_SOURCE = Path(errors.__file__)
# "  + ConfigError (ValueError) -- monitor.config: ..." (the root line has no module)
TREE_LINE = re.compile(
    r"^(?P<indent> *)[*+-] (?P<name>\w+)(?: \((?P<builtin>\w+)\))?(?: -- (?P<module>[\w.]+):)?")


def drawn_tree() -> dict[str, tuple[str | None, str | None, str | None]]:
    """Each class the docstring draws: (parent, builtin base, module)."""
    docstring = errors.__doc__ or ""
    _, _, drawing = docstring.partition("The tree")
    tree: dict[str, tuple[str | None, str | None, str | None]] = {}
    parents: list[tuple[int, str]] = []
    for line in drawing.splitlines():
        match = TREE_LINE.match(line)
        if match is None:
            continue
        indent = len(match["indent"])
        while parents and parents[-1][0] >= indent:
            parents.pop()
        parent = parents[-1][1] if parents else None
        tree[match["name"]] = (parent, match["builtin"], match["module"])
        parents.append((indent, match["name"]))
    return tree


def project_modules() -> Iterator[str]:
    """Every module of the monitor package except ``__main__`` (importing it runs the CLI)."""
    for module in pkgutil.walk_packages(monitor.__path__, "monitor."):
        if not module.name.endswith(".__main__"):
            yield module.name


def subclasses(base: type[BaseException]) -> Iterator[type[BaseException]]:
    """Every subclass of ``base`` defined in the monitor package, at any depth."""
    for subclass in base.__subclasses__():
        if subclass.__module__.startswith("monitor."):
            yield subclass
        yield from subclasses(subclass)


@pytest.fixture(scope="module")
def defined_errors() -> dict[str, type[BaseException]]:
    """Every exception class the package defines, by name, once all its modules are imported."""
    for name in project_modules():
        importlib.import_module(name)
    return {error.__name__: error for error in subclasses(Exception)}


def test_the_drawing_is_found() -> None:
    """The parser reads the docstring's tree, so the comparisons below cannot pass on an empty one."""
    tree = drawn_tree()
    assert tree["HedgeMonitorError"] == (None, None, None)
    assert tree["EventError"] == ("HedgeMonitorError", "ValueError", "monitor.domain.events")
    assert tree["BusCommitError"] == ("BusError", None, "monitor.bus.base")
    assert len(tree) >= 20


def test_every_public_error_of_the_package_descends_from_the_root(
    defined_errors: dict[str, type[BaseException]],
) -> None:
    """No module defines a public exception outside the tree (private control-flow ones aside)."""
    outside = sorted(name for name, error in defined_errors.items()
                     if not name.startswith("_") and not issubclass(error, HedgeMonitorError))
    assert outside == []


def test_the_drawing_matches_the_classes(defined_errors: dict[str, type[BaseException]]) -> None:
    """Each drawn class exists with the drawn parent, builtin base and module, and none is missing."""
    actual: dict[str, tuple[str | None, str | None, str | None]] = {
        "HedgeMonitorError": (None, None, None)}
    for name, error in defined_errors.items():
        if not issubclass(error, HedgeMonitorError) or error is HedgeMonitorError:
            continue
        parents = [base.__name__ for base in error.__bases__ if issubclass(base, HedgeMonitorError)]
        builtin = [base.__name__ for base in error.__bases__
                   if getattr(builtins, base.__name__, None) is base]
        assert len(parents) == 1, name
        assert len(builtin) <= 1, name
        actual[name] = (parents[0], builtin[0] if builtin else None, error.__module__)
    assert drawn_tree() == actual


def test_the_root_module_imports_nothing() -> None:
    """monitor/errors.py imports nothing but ``__future__``, so the pure domain may import it."""
    tree = ast.parse(ERRORS_SOURCE.read_text(encoding="utf-8"))
    imported = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    assert all(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in imported)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("monitor.domain.events", "EventError"),
        ("monitor.domain.instruments", "CatalogError"),
        ("monitor.codec", "DecodeError"),
        ("monitor.venues.base", "FrameError"),
        ("monitor.config", "ConfigError"),
        ("monitor.sim.server", "SimulatorError"),
    ],
)
def test_an_error_caught_as_value_error_still_is_one(module: str, name: str) -> None:
    """Code that catches ValueError (the simulator's control calls, config checks) still catches it."""
    error = getattr(importlib.import_module(module), name)
    assert issubclass(error, HedgeMonitorError)
    assert issubclass(error, ValueError)
