"""Grafana provisioning and dashboards: fixed datasource uid, well-formed panels, and queries
that read only metrics monitor.metrics exports (syntax checked by promtool)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.tooling import (
    GRAFANA_BUILTINS,
    GRAFANA_DIR,
    METRIC_NAME,
    VARIABLE,
    dashboard_queries,
    exported_sample_names,
    load_dashboards,
    panels_of,
    require_tool,
    run_tool,
)

DATASOURCE_UID = "hedge-prometheus"
OVERVIEW_PANELS = {
    "Net delta (USD)", "Hedge ratio and its band", "Contracts to target", "Margin buffer (USD)",
    "Margin buffer (fraction of margin balance)", "Distance to liquidation", "Hedge effectiveness",
    "Stress grid", "Funding and fees against protection", "Hedge time left", "Firing alerts",
}
PIPELINE_PANELS = {
    "Ingest rate per venue", "Event-to-publish latency", "Consumer lag", "Reconnects",
    "Dead letters", "Feed age", "Stale feeds",
}


def test_datasource_has_the_fixed_uid() -> None:
    """The provisioned Prometheus datasource has uid hedge-prometheus and is the default."""
    path = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
    (datasource,) = yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["isDefault"] is True


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    """The dashboard provider loads files from /var/lib/grafana/dashboards."""
    path = GRAFANA_DIR / "provisioning" / "dashboards" / "provider.yml"
    (provider,) = yaml.safe_load(path.read_text(encoding="utf-8"))["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboards_present_with_unique_uids() -> None:
    """Both dashboards exist, with distinct uids and the panels they promise."""
    dashboards = load_dashboards()
    assert set(dashboards) == {"hedge-overview.json", "pipeline-health.json"}
    uids = [dashboard["uid"] for dashboard in dashboards.values()]
    assert len(set(uids)) == len(uids)
    titles = {name: {panel["title"] for panel in panels_of(board)}
              for name, board in dashboards.items()}
    assert titles["hedge-overview.json"] >= OVERVIEW_PANELS
    assert titles["pipeline-health.json"] >= PIPELINE_PANELS


def test_panels_are_well_formed() -> None:
    """Panel ids are unique, panels fit the 24-column grid, every target uses our datasource."""
    for name, dashboard in load_dashboards().items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), name
        for panel in panels_of(dashboard):
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, (name, panel["title"])
            assert panel["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
                assert target["expr"].strip(), (name, panel["title"])


def test_overview_filters_by_the_portfolio_variable() -> None:
    """The overview has a portfolio variable and every per-portfolio query filters by it."""
    dashboard = load_dashboards()["hedge-overview.json"]
    (variable,) = dashboard["templating"]["list"]
    assert variable["name"] == "portfolio"
    assert variable["datasource"]["uid"] == DATASOURCE_UID
    assert variable["definition"] == "label_values(hedge_snapshot_timestamp_seconds, portfolio)"
    for query in dashboard_queries():
        if query.dashboard == "hedge-overview.json" and "hedge_alerts_firing" not in query.expr:
            assert 'portfolio=~"$portfolio"' in query.expr, query


def test_queries_use_only_defined_variables() -> None:
    """A query's $variables are the dashboard's own or Grafana built-ins it has values for."""
    dashboards = load_dashboards()
    for query in dashboard_queries():
        defined = {v["name"] for v in dashboards[query.dashboard]["templating"]["list"]}
        builtins = {name.removeprefix("$") for name in GRAFANA_BUILTINS}
        assert set(VARIABLE.findall(query.expr)) <= defined | builtins, query


def test_queries_read_exported_metrics() -> None:
    """Every hedge_* name in a panel query is a sample name monitor.metrics exports."""
    exported = exported_sample_names()
    for query in dashboard_queries():
        names = set(METRIC_NAME.findall(query.expr))
        assert names or "up{" in query.expr, query
        assert names <= exported, (query, names - exported)


def test_queries_parse_as_promql(tmp_path: Path) -> None:
    """promtool accepts every panel query (checked as recording rules)."""
    promtool = require_tool("promtool")
    queries = dashboard_queries()
    rules = [
        {"record": f"check:query_{index}", "expr": query.resolved({"portfolio": "alice"})}
        for index, query in enumerate(queries)
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}),
                    encoding="utf-8")
    result = run_tool(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_resolved_substitutes_variables_and_builtins() -> None:
    """Resolving a query fills $portfolio and $__rate_interval."""
    (query,) = [q for q in dashboard_queries() if q.panel == "Ingest rate per venue"]
    assert "[1m]" in query.resolved({})
    (overview,) = [q for q in dashboard_queries() if q.panel == "Net delta (USD)"]
    assert overview.resolved({"portfolio": "alice"}) == 'hedge_net_delta_usd{portfolio=~"alice"}'


@pytest.mark.parametrize("name", ["hedge-overview.json", "pipeline-health.json"])
def test_dashboards_have_no_fixed_time_or_ids(name: str) -> None:
    """Provisioned dashboards carry no database id and use a relative time range."""
    dashboard = load_dashboards()[name]
    assert "id" not in dashboard
    assert dashboard["time"]["from"].startswith("now-")
