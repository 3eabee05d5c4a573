"""`hedge-monitor process`: the flags applied to the config that monitor.app.run_processor runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.bus.base import Topics
from monitor.cli import build_parser
from monitor.commands.process import processor_config
from monitor.processor.runner import ProcessorSettings


def test_without_a_config_the_defaults_carry_the_flags() -> None:
    """--topic-prefix, --group-id, --partitions and the intervals override the default settings."""
    args = build_parser().parse_args([
        "process", "--kafka", "127.0.0.1:9092", "--topic-prefix", "crash-1.", "--group-id", "g",
        "--partitions", "3", "--publish-interval-ms", "500", "--checkpoint-interval-ms", "200"])
    config = processor_config(args)
    assert config is not None
    topics = Topics.with_prefix("crash-1.")
    assert config.processor == ProcessorSettings(topics=topics, group_id="g", publish_interval_ms=500,
                                                 checkpoint_interval_ms=200)
    assert (config.topics, config.topic_partitions) == (topics, 3)  # the topics created are those read


def test_the_config_file_is_read_and_its_values_kept_where_no_flag_is_given(tmp_path: Path) -> None:
    """[processor] publish_interval_ms from the file stays; the default group id is the file's."""
    path = tmp_path / "monitor.toml"
    path.write_text("[processor]\npublish_interval_ms = 1000\n", encoding="utf-8")
    config = processor_config(build_parser().parse_args(
        ["process", "--kafka", "127.0.0.1:9092", "--config", str(path)]))
    assert config is not None
    assert (config.processor.publish_interval_ms, config.processor.group_id) == (1000, "hedge-monitor")
    assert config.source == str(path)


def test_an_unreadable_config_is_reported_and_gives_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A missing file: None (the command exits 2) and the problem on stderr."""
    missing = tmp_path / "missing.toml"
    args = build_parser().parse_args(["process", "--kafka", "127.0.0.1:9092", "--config", str(missing)])
    assert processor_config(args) is None
    assert "cannot read the file" in capsys.readouterr().err
