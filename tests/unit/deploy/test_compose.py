"""docker-compose.yml and the Dockerfile, checked statically (no Docker here): the services,
mounted files, published ports, monitor commands and environment, and the scrape targets."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from monitor.cli import build_parser
from tests.unit.deploy.tooling import GRAFANA_DIR, PROMETHEUS_DIR, REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
MONITOR_SERVICES = ("monitor-processor", "monitor-ingest", "simulator")
PUBLISHED = {
    "kafka": 29092, "prometheus": 9090, "alertmanager": 9093, "grafana": 3000,
    "monitor-processor": 9464, "monitor-ingest": 9465, "simulator": 8765,
}
ENVIRONMENT_READ = re.compile(r"""(?:environ(?:\.get)?[\[(]|getenv\()\s*["'](HEDGE_[A-Z0-9_]+)""")


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of the service's bind mounts (named volumes left out)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith(("./", "/", "../")):
            mounts.append((source, target))
    return mounts


def flag(command: list[str], name: str) -> str:
    """The value following ``name`` in a command list."""
    return command[command.index(name) + 1]


def test_services_present() -> None:
    """Kafka, the monitor processes, the simulator and the monitoring stack are all defined."""
    assert set(SERVICES) >= set(PUBLISHED)


def test_kafka_is_the_official_image_in_kraft_mode() -> None:
    """Kafka runs apache/kafka at the tests' broker version, combined broker+controller."""
    kafka = SERVICES["kafka"]
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert version is not None
    assert kafka["image"] == f"apache/kafka:{version.group(1)}"
    environment = kafka["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://kafka:9092" in environment["KAFKA_ADVERTISED_LISTENERS"]
    assert not any("ZOOKEEPER" in name for name in environment)


def test_every_mounted_host_path_exists() -> None:
    """Each bind mount's host path is a file or directory of this repository."""
    mounts = [mount for service in SERVICES.values() for mount in bind_mounts(service)]
    assert len(mounts) >= 4
    for source, _ in mounts:
        assert source.startswith("./"), f"{source} is not relative to the repository"
        assert (REPO / source).exists(), source


def test_published_ports_bind_loopback() -> None:
    """Each service publishes its port on 127.0.0.1 only."""
    for name, port in PUBLISHED.items():
        assert f"127.0.0.1:{port}:{port}" in SERVICES[name]["ports"], name
    for name, service in SERVICES.items():
        for published in service.get("ports", []):
            assert str(published).startswith("127.0.0.1:"), (name, published)


def test_monitor_services_build_the_repository_image() -> None:
    """The monitor services are built from the Dockerfile at the repository root."""
    for name in MONITOR_SERVICES:
        build = SERVICES[name]["build"]
        assert build["context"] == "."
        assert (REPO / build.get("dockerfile", "Dockerfile")).is_file()


def test_monitor_commands() -> None:
    """Processor, ingest and simulator run the documented commands against kafka:9092."""
    processor = SERVICES["monitor-processor"]["command"]
    assert processor[:5] == ["process", "--kafka", "kafka:9092", "--config", "/config/monitor.toml"]
    ingest = SERVICES["monitor-ingest"]["command"]
    assert ingest[0] == "ingest"
    assert flag(ingest, "--config") == "/config/monitor.toml"
    simulator = SERVICES["simulator"]["command"]
    assert simulator[:3] == ["simulate", "--scenario", "seed-drop"]
    assert flag(simulator, "--port") == "8765"
    for name in ("monitor-processor", "monitor-ingest"):
        command = SERVICES[name]["command"]
        assert flag(command, "--metrics-host") == "0.0.0.0", name  # noqa: S104 -- in-container
        assert int(flag(command, "--metrics-port")) == PUBLISHED[name], name


@pytest.mark.parametrize("name", MONITOR_SERVICES)
def test_monitor_command_parses(name: str) -> None:
    """The service's command is accepted by the hedge-monitor CLI parser."""
    command = SERVICES[name]["command"]
    # an unknown sub-command or flag exits 2 here, failing the test
    args = build_parser().parse_args(command)
    assert args.command == command[0]


def test_monitor_config_is_provided() -> None:
    """/config/monitor.toml is mounted into the monitor services from a defined config."""
    configs = COMPOSE["configs"]
    for name in ("monitor-processor", "monitor-ingest"):
        (mounted,) = [c for c in SERVICES[name]["configs"] if c["target"] == "/config/monitor.toml"]
        definition = configs[mounted["source"]]
        assert "content" in definition or (REPO / definition["file"]).is_file()


def test_environment_the_monitor_reads_is_set() -> None:
    """Every HEDGE_* variable monitor/ reads is set for the monitor services; values are text."""
    read = {
        match
        for path in (REPO / "monitor").rglob("*.py")
        for match in ENVIRONMENT_READ.findall(path.read_text(encoding="utf-8"))
    }
    provided = {
        variable for name in MONITOR_SERVICES for variable in SERVICES[name].get("environment", {})
    }
    assert read <= provided, read - provided
    for name, service in SERVICES.items():
        for variable, value in service.get("environment", {}).items():
            assert isinstance(value, str), (name, variable)


def test_scrape_targets_are_compose_services() -> None:
    """Prometheus scrapes each monitor process at the port its command serves /metrics on."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets["hedge-processor"] == "monitor-processor:9464"
    assert targets["hedge-ingest"] == "monitor-ingest:9465"
    assert targets["alertmanager"] == "alertmanager:9093"
    (alerting,) = config["alerting"]["alertmanagers"][0]["static_configs"]
    assert alerting["targets"] == ["alertmanager:9093"]
    for target in targets.values():
        host = target.split(":")[0]
        assert host in SERVICES or host in {"localhost", "host.docker.internal"}, target


def test_prometheus_mounts_its_config_directory() -> None:
    """Prometheus reads deploy/prometheus as /etc/prometheus, rules included."""
    prometheus = SERVICES["prometheus"]
    assert ("./deploy/prometheus", "/etc/prometheus") in bind_mounts(prometheus)
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]


def test_grafana_is_provisioned_from_the_repository() -> None:
    """Grafana mounts the provisioning folder and the dashboards where the provider looks."""
    mounts = dict(bind_mounts(SERVICES["grafana"]))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "dashboards" / "provider.yml").read_text(encoding="utf-8"))
    assert mounts["./grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    datasource = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text(
            encoding="utf-8"))
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_dockerfile_installs_the_package() -> None:
    """The Dockerfile copies pyproject.toml and monitor/, pip-installs them, runs unprivileged."""
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    assert lines[0].startswith("FROM python:3.11")
    copies = [line.split()[1:-1] for line in lines if line.startswith("COPY ")]
    sources = {source for sources in copies for source in sources}
    assert {"pyproject.toml", "monitor"} <= sources
    for source in sources:
        if "*" not in source:
            assert (REPO / source).exists(), source
    assert "pip install ." in text
    assert 'ENTRYPOINT ["hedge-monitor"]' in lines
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
