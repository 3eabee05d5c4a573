"""Exposure: /metrics stays on loopback by default, nothing deserialises unsafely, Kafka TLS/SASL
options reach aiokafka exactly, and secret values never print in the objects that carry them."""

from __future__ import annotations

import argparse
import ast
import asyncio
import inspect
import logging
import shutil
import ssl
import subprocess
import textwrap
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from monitor.bus.kafka import KafkaSettings
from monitor.commands import process
from monitor.config import ConfigError, MetricsSettings, load_config, parse_config
from monitor.metrics import DEFAULT_METRICS_HOST, Metrics, serve_metrics
from monitor.secrets import Secret
from monitor.venues.base import AccountContext, Credentials

MONITOR = Path(__file__).resolve().parents[2] / "monitor"
CANARY = "CANARY-exposure-5d1e0b7a"
CANARY_KEY = "CANARY-exposure-key-93c2"
CANARY_PHRASE = "CANARY-exposure-phrase-a41f"
CANARY_SASL = "CANARY-exposure-sasl-0e6d"
CANARIES = (CANARY, CANARY_KEY, CANARY_PHRASE, CANARY_SASL)


# --- /metrics binds loopback by default -------------------------------------------------------------


def test_metrics_default_host_is_loopback_everywhere() -> None:
    """serve_metrics, ``process --metrics-host`` and the [metrics] config all default to 127.0.0.1."""
    assert DEFAULT_METRICS_HOST == "127.0.0.1"
    assert inspect.signature(serve_metrics).parameters["host"].default == "127.0.0.1"
    parser = argparse.ArgumentParser()
    process.add_arguments(parser)
    assert parser.parse_args(["--kafka", "127.0.0.1:9092"]).metrics_host == "127.0.0.1"
    assert MetricsSettings().host == "127.0.0.1"
    assert parse_config("", source="empty.toml").metrics.host == "127.0.0.1"


async def test_metrics_server_started_with_defaults_listens_on_loopback_only() -> None:
    """A /metrics server started without a host is bound to 127.0.0.1 (and answers there)."""
    server = await serve_metrics(Metrics(), port=0)
    try:
        assert server.host == "127.0.0.1"
        status = await asyncio.to_thread(_get_status, f"http://127.0.0.1:{server.port}/metrics")
        assert status == 200
    finally:
        await server.close()


def _get_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 -- an http URL the test builds
        status: int = response.status
    return status


# --- no unsafe deserialisation in monitor/ --------------------------------------------------------------

_BANNED_MODULES = {"pickle", "cPickle", "marshal", "shelve", "dill", "cloudpickle", "jsonpickle"}
_BANNED_BUILTINS = {"eval", "exec"}
_YAML_UNSAFE = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all"}
_SAFE_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


class _UnsafeCalls(ast.NodeVisitor):
    """Finds eval/exec, pickle-like imports and calls, and yaml.load without a safe Loader."""

    def __init__(self) -> None:
        self.findings: list[str] = []
        self.yaml_names: set[str] = set()
        self.yaml_load_names: set[str] = set()

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in _BANNED_MODULES:
                self.findings.append(f"line {node.lineno}: import {alias.name}")
            if root == "yaml":
                self.yaml_names.add(alias.asname or "yaml")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        root = (node.module or "").split(".")[0]
        if root in _BANNED_MODULES:
            self.findings.append(f"line {node.lineno}: from {node.module} import ...")
        if root == "yaml":
            for alias in node.names:
                if alias.name in _YAML_UNSAFE:
                    self.findings.append(f"line {node.lineno}: from yaml import {alias.name}")
                if alias.name in ("load", "load_all"):
                    self.yaml_load_names.add(alias.asname or alias.name)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        function = node.func
        if isinstance(function, ast.Name):
            if function.id in _BANNED_BUILTINS:
                self.findings.append(f"line {node.lineno}: {function.id}()")
            if function.id in self.yaml_load_names and not _safe_loader(node):
                self.findings.append(f"line {node.lineno}: yaml {function.id}() without a safe Loader")
        elif isinstance(function, ast.Attribute):
            owner = function.value.id if isinstance(function.value, ast.Name) else None
            if owner == "builtins" and function.attr in _BANNED_BUILTINS:
                self.findings.append(f"line {node.lineno}: builtins.{function.attr}()")
            if owner in self.yaml_names:
                if function.attr in _YAML_UNSAFE:
                    self.findings.append(f"line {node.lineno}: yaml.{function.attr}()")
                if function.attr in ("load", "load_all") and not _safe_loader(node):
                    self.findings.append(f"line {node.lineno}: yaml.{function.attr}() without a safe Loader")
        self.generic_visit(node)


def _safe_loader(call: ast.Call) -> bool:
    loaders = [keyword.value for keyword in call.keywords if keyword.arg == "Loader"]
    loaders += call.args[1:2]
    for loader in loaders:
        name = loader.attr if isinstance(loader, ast.Attribute) else getattr(loader, "id", None)
        if name in _SAFE_LOADERS:
            return True
    return False


def unsafe_calls(source: str) -> list[str]:
    """What the scan finds in one module's source."""
    visitor = _UnsafeCalls()
    visitor.visit(ast.parse(source))
    return visitor.findings


def _modules() -> Iterator[Path]:
    return iter(sorted(MONITOR.rglob("*.py")))


def test_nothing_in_monitor_deserialises_unsafely() -> None:
    """No module of monitor/ calls eval/exec, imports pickle/marshal/shelve or uses unsafe yaml."""
    scanned = 0
    findings: dict[str, list[str]] = {}
    for module in _modules():
        scanned += 1
        found = unsafe_calls(module.read_text(encoding="utf-8"))
        if found:
            findings[str(module.relative_to(MONITOR.parent))] = found
    assert findings == {}
    # the scan read the package, not an empty directory: the decoder and the venues are in it
    assert scanned >= 20
    assert (MONITOR / "codec.py") in set(_modules())


@pytest.mark.parametrize("source", [
    "eval(text)",
    "exec(code)",
    "import builtins\nbuiltins.eval(text)",
    "import pickle\npickle.loads(data)",
    "from pickle import loads\nloads(data)",
    "import marshal\nmarshal.loads(data)",
    "import shelve",
    "import yaml\nyaml.load(text)",
    "import yaml as y\ny.load(text, Loader=y.FullLoader)",
    "import yaml\nyaml.unsafe_load(text)",
    "import yaml\nyaml.full_load(text)",
    "from yaml import load\nload(text)",
])
def test_the_scan_finds_each_unsafe_pattern(source: str) -> None:
    """The scanner flags every banned pattern (so the scan of monitor/ can fail)."""
    assert unsafe_calls(source)


@pytest.mark.parametrize("source", [
    "import yaml\nyaml.safe_load(text)",
    "import yaml\nyaml.load(text, Loader=yaml.SafeLoader)",
    "import yaml\nyaml.load(text, yaml.CSafeLoader)",
    "import orjson\norjson.loads(data)",
    "text = 'eval(x) and pickle.loads(y)'",
])
def test_the_scan_accepts_safe_code(source: str) -> None:
    """Safe loaders, JSON and mentions inside strings are not flagged."""
    assert unsafe_calls(source) == []


# --- Kafka TLS and SASL pass through to aiokafka ---------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and its key made by the openssl binary (CN=test, one day)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl binary is not installed; it makes the test CA")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "ca.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def _sasl_ssl(cafile: Path) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers="broker-1:9093,broker-2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="hedge-monitor",
        sasl_password=Secret(CANARY_SASL),
        ssl_cafile=str(cafile),
    )


def test_sasl_ssl_settings_become_exactly_the_aiokafka_options(certificate: tuple[Path, Path]) -> None:
    """SASL_SSL + SCRAM-SHA-512 + CA file give exactly the aiokafka keys, the password revealed
    only there, and a verifying TLS context that trusts the CA."""
    cert, _ = certificate
    options = _sasl_ssl(cert).client_options()
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "broker-1:9093,broker-2:9093",
        "client_id": "hedge-monitor",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "hedge-monitor",
        "sasl_plain_password": CANARY_SASL,
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    # one trusted CA whose subject is one relative distinguished name: CN=test
    assert [ca["subject"] for ca in context.get_ca_certs()] == [((("commonName", "test"),),)]
    for client in (AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient):
        accepted = inspect.signature(client.__init__).parameters
        assert set(options) | {"ssl_context"} <= set(accepted), client.__name__


async def test_aiokafka_clients_accept_the_options(certificate: tuple[Path, Path]) -> None:
    """aiokafka's producer and consumer are constructed with the options (nothing is connected)."""
    cert, _ = certificate
    options = _sasl_ssl(cert).client_options()
    producer = AIOKafkaProducer(**options)
    await producer.stop()
    consumer = AIOKafkaConsumer(**options)
    await consumer.stop()


def test_mutual_tls_loads_the_client_certificate(certificate: tuple[Path, Path]) -> None:
    """SSL with a client certificate and key builds a context carrying that key pair."""
    cert, key = certificate
    settings = KafkaSettings(bootstrap_servers="broker:9093", security_protocol="SSL",
                             ssl_cafile=str(cert), ssl_certfile=str(cert), ssl_keyfile=str(key))
    options = settings.client_options()
    assert set(options) == {"bootstrap_servers", "client_id", "security_protocol", "ssl_context"}
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_plaintext_has_no_tls_or_sasl_options() -> None:
    """The default PLAINTEXT settings pass no TLS context and no SASL keys."""
    assert KafkaSettings(bootstrap_servers="127.0.0.1:9092").client_options() == {
        "bootstrap_servers": "127.0.0.1:9092", "client_id": "hedge-monitor", "security_protocol": "PLAINTEXT",
    }


def test_config_kafka_section_loads_into_the_same_settings(
    certificate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[kafka] with SASL_SSL keys (password from the environment, CA relative to the file) loads
    into the KafkaSettings built by hand, and gives the same aiokafka options."""
    cert, _ = certificate
    (tmp_path / "ca.pem").write_bytes(cert.read_bytes())
    monkeypatch.setenv("HEDGE_TEST_SASL_PASSWORD", CANARY_SASL)
    path = tmp_path / "monitor.toml"
    path.write_text(textwrap.dedent("""\
        [kafka]
        bootstrap_servers = ["broker-1:9093", "broker-2:9093"]
        security_protocol = "SASL_SSL"
        sasl_mechanism = "SCRAM-SHA-512"
        sasl_username = "hedge-monitor"
        sasl_password = "env:HEDGE_TEST_SASL_PASSWORD"
        ssl_cafile = "ca.pem"
        """), encoding="utf-8")
    loaded = load_config(path).kafka
    expected = _sasl_ssl(tmp_path / "ca.pem")
    assert loaded == expected
    assert loaded is not None
    loaded_options, expected_options = loaded.client_options(), expected.client_options()
    assert {k: v for k, v in loaded_options.items() if k != "ssl_context"} == {
        k: v for k, v in expected_options.items() if k != "ssl_context"}


# --- secret values never print ----------------------------------------------------------------------------


def _renderings(value: object) -> list[str]:
    """Every way a value commonly becomes text: repr, str, format, %-format, logging, exceptions."""
    record = logging.LogRecord("test", logging.ERROR, __file__, 1, "value %s %r", (value, value), None)
    error = ValueError(value)
    return [
        repr(value), str(value), f"{value}", f"{value!r}", format(value, ""), "%s" % (value,),  # noqa: UP031 -- %-formatting is one of the renderings
        "%r" % (value,),  # noqa: UP031 -- %-formatting is one of the renderings
        record.getMessage(), logging.Formatter().format(record), str(error), repr(error),
    ]


def _credentials() -> Credentials:
    return Credentials(
        api_key=Secret(CANARY_KEY), api_secret=Secret(CANARY), passphrase=Secret(CANARY_PHRASE)
    )


def _leaks(texts: list[str]) -> list[str]:
    return [text for text in texts if any(canary in text for canary in CANARIES)]


def test_credentials_account_and_kafka_settings_never_print_secrets() -> None:
    """Credentials, AccountContext and KafkaSettings print their secrets as *** in every rendering."""
    values: list[object] = [
        Secret(CANARY),
        _credentials(),
        AccountContext(account="okx-main", portfolio="alice", credentials=_credentials()),
        KafkaSettings(bootstrap_servers="b:9093", security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="PLAIN", sasl_username="u", sasl_password=Secret(CANARY_SASL)),
    ]
    for value in values:
        texts = _renderings(value)
        assert _leaks(texts) == []
        assert any("***" in text for text in texts)


def test_loaded_config_never_prints_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MonitorConfig whose accounts and Kafka hold canary secrets prints none of them."""
    monkeypatch.setenv("HEDGE_TEST_OKX_KEY", CANARY_KEY)
    monkeypatch.setenv("HEDGE_TEST_OKX_SECRET", CANARY)
    monkeypatch.setenv("HEDGE_TEST_OKX_PHRASE", CANARY_PHRASE)
    monkeypatch.setenv("HEDGE_TEST_SASL_PASSWORD", CANARY_SASL)
    (tmp_path / "binance.secret").write_text(CANARY + "\n", encoding="utf-8")
    path = tmp_path / "monitor.toml"
    path.write_text(textwrap.dedent("""\
        [kafka]
        bootstrap_servers = "127.0.0.1:9092"
        security_protocol = "SASL_PLAINTEXT"
        sasl_mechanism = "SCRAM-SHA-256"
        sasl_username = "hedge-monitor"
        sasl_password = "env:HEDGE_TEST_SASL_PASSWORD"

        [[accounts]]
        id = "okx-main"
        venue = "okx"
        portfolio = "alice"
        symbols = ["BTC-USDT-SWAP"]
        api_key = "env:HEDGE_TEST_OKX_KEY"
        api_secret = "env:HEDGE_TEST_OKX_SECRET"
        passphrase = "env:HEDGE_TEST_OKX_PHRASE"

        [[accounts]]
        id = "binance-main"
        venue = "binance"
        portfolio = "alice"
        symbols = ["BTCUSDT"]
        api_key = "env:HEDGE_TEST_OKX_KEY"
        api_secret = "file:binance.secret"
        """), encoding="utf-8")
    config = load_config(path)
    assert config.accounts[0].credentials is not None
    assert config.accounts[0].credentials.api_secret.reveal() == CANARY
    assert config.accounts[1].credentials is not None
    assert config.accounts[1].credentials.api_secret.reveal() == CANARY
    assert _leaks(_renderings(config)) == []
    assert _leaks(_renderings(config.accounts)) == []
    assert _leaks(_renderings(replace(config, source="other.toml"))) == []


@pytest.mark.parametrize("lines", [
    [f'api_secret = "{CANARY}"'],
    [f'api_secret = ["{CANARY}"]'],
    [f'api_secret = {{ value = "{CANARY}" }}'],
    [f'api_secret = "{CANARY}\\n"', 'symbols = "BTCUSDT"'],
    ['api_secret = "env:HEDGE_TEST_SECRET_SET"', "symbols = 5"],
    ['api_secret = "file:secret.txt"', 'ws_base_url = "ftp://example"'],
])
def test_config_errors_never_show_secret_values(
    lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A literal or mistyped secret, or a resolved one in a file with other problems, is never
    shown in the ConfigError (its message, repr or problems)."""
    monkeypatch.setenv("HEDGE_TEST_SECRET_SET", CANARY)
    (tmp_path / "secret.txt").write_text(CANARY, encoding="utf-8")
    path = tmp_path / "monitor.toml"
    body = "\n".join(lines)
    path.write_text(
        '[[accounts]]\nid = "binance-main"\nvenue = "binance"\nportfolio = "alice"\n'
        f'api_key = "env:HEDGE_TEST_UNSET_VARIABLE_7f"\n{body}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    error = refused.value
    texts = [*_renderings(error), *(str(problem) for problem in error.problems), repr(error.problems)]
    assert any("api_key" in text for text in texts)
    assert _leaks(texts) == []
