"""The simulator computes each venue's figures on its own: it never calls the monitor's formulas.

A shared formula would make the monitor and the simulator agree with each other and not with the
venue; ``tests/integration/test_venue_margin_agreement.py`` is only a check because of this rule.
The catalog (``monitor.domain.instruments``) may be read, as contract terms and tier data.
"""

from __future__ import annotations

import ast
from pathlib import Path

SIM_DIRECTORY = Path(__file__).resolve().parents[3] / "monitor" / "sim"
ALLOWED_DOMAIN = frozenset({"monitor.domain.instruments", "monitor.domain.events"})


def domain_imports(source: str) -> set[str]:
    """Every ``monitor.domain`` module a source imports, the allowed data modules left out."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.startswith("monitor.domain") and not any(
                    name == allowed or name.startswith(allowed + ".") for allowed in ALLOWED_DOMAIN):
                found.add(name)
    return found


def test_the_simulator_imports_no_monitor_formula() -> None:
    """No module of monitor/sim imports monitor.domain's formulas, book, margin or planner."""
    modules = sorted(SIM_DIRECTORY.rglob("*.py"))
    assert len(modules) > 10
    offenders = {str(path.relative_to(SIM_DIRECTORY)): imports for path in modules
                 if (imports := domain_imports(path.read_text(encoding="utf-8")))}
    assert offenders == {}


def test_the_detector_sees_a_formula_import() -> None:
    """The check itself flags the imports it exists for, and lets the catalog through."""
    assert domain_imports("from monitor.domain import formulas as f") == {
        "monitor.domain", "monitor.domain.formulas"}
    assert domain_imports("from monitor.domain.margin import margin_model_for") == {
        "monitor.domain.margin", "monitor.domain.margin.margin_model_for"}
    assert domain_imports("import monitor.domain.book") == {"monitor.domain.book"}
    assert domain_imports("from monitor.domain.instruments import Catalog") == set()
