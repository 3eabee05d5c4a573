"""The fuzz corpus shipped with the package (monitor/fuzz_corpus): complete, current and declared."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

from monitor.fuzzing import TARGETS, default_fixture_dir, fixture_loader, resolve_seeds, run_fuzz

from ._harness import FIXTURES

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "monitor" / "fuzz_corpus"


def names_the_targets_read() -> set[str]:
    """Every fixture file name the fuzz targets load."""
    names: set[str] = set()
    load = fixture_loader(FIXTURES)

    def recording(name: str) -> Any:
        names.add(name)
        return load(name)

    for target in TARGETS:
        resolve_seeds(target, recording)
    return names


def test_the_default_directory_is_the_packaged_corpus() -> None:
    """The fuzzer reads the corpus beside the package, not tests/fixtures of a checkout."""
    assert Path(str(default_fixture_dir())).resolve() == CORPUS


def test_the_corpus_holds_exactly_the_files_the_targets_read() -> None:
    """No target reads a file the wheel lacks, and the wheel carries no file no target reads."""
    wanted = names_the_targets_read()
    assert len(wanted) > 50  # the walk saw the targets, so the comparison cannot pass vacuously
    assert {path.name for path in CORPUS.iterdir()} == wanted


def test_each_corpus_file_is_the_test_fixture_of_the_same_name() -> None:
    """The corpus is a copy of tests/fixtures/exchanges (where the sources are listed): no drift.

    A fixture fixed in tests/fixtures/exchanges must be copied to monitor/fuzz_corpus as well.
    """
    stale = sorted(path.name for path in CORPUS.iterdir()
                   if path.read_bytes() != (FIXTURES / path.name).read_bytes())
    assert stale == []


def test_the_package_data_declares_the_corpus() -> None:
    """pyproject.toml ships monitor/fuzz_corpus/*.json in the wheel."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "fuzz_corpus/*.json" in project["tool"]["setuptools"]["package-data"]["monitor"]


def test_a_run_without_a_fixture_directory_reads_the_corpus() -> None:
    """run_fuzz with no directory fuzzes from the corpus: every target gets frames, nothing crashes."""
    report = asyncio.run(run_fuzz(600, 3))
    assert report.frames == 600
    assert len(report.by_target) == len(TARGETS) + 1  # and the codec
    assert report.crashes == 0, list(report.crash_samples.values())[:3]
    assert report.accepted > 0
