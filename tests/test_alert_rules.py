"""`brokerscale rules emit`: the trigger table as Prometheus alerting rules.

The alerts are checked with Prometheus' own tools: `promtool check rules` for syntax, and
`promtool test rules` for meaning — the same utilization values go through `check`'s evaluation
(Python) and through the emitted rules (Prometheus' engine), and both must name the same severity.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from brokerscale.model.snapshot import Snapshot
from brokerscale.observe.alert_rules import alerting_rules
from brokerscale.observe.capacity import Capacity, Utilization
from brokerscale.observe.rules import load_rules
from brokerscale.observe.triggers import evaluate

CLI = Callable[..., tuple[int, str, str]]
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian: prometheus)")


def _alerts(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def test_thresholds_come_from_the_rules_file_check_uses(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("throughput: {warning: 55, critical: 77}\nconnections: {enabled: false}\n"
                          "request_latency_p99_ms: {warning: 20}\n")
    alerts = _alerts(alerting_rules(load_rules(rules_file)))
    assert alerts["KafkaThroughputUtilizationWarning"]["expr"].endswith("> 55 <= 77")
    assert alerts["KafkaThroughputUtilizationCritical"]["expr"].endswith("> 77")
    assert not any("Connections" in name for name in alerts)  # a disabled rule emits no alert
    # Only the warning line changed: critical keeps the shipped 100 ms.
    assert alerts["KafkaRequestLatencyP99MsWarning"]["expr"] == \
        "(brokerscale_broker_produce_p99_milliseconds) > 20 <= 100"
    for a in alerts.values():
        assert a["labels"]["severity"] in ("warning", "critical")
        assert a["labels"]["rule"] and a["labels"]["scope"] and a["annotations"]["action"]


def test_capacity_alerts_read_the_brokers_own_series_with_the_capacity_built_in(tmp_path: Path) -> None:
    from brokerscale.observe.capacity import CapacityFile, from_brokers

    spec = CapacityFile.model_validate({"broker": {"throughput_mb_s": 20, "disk": "10GB"},
                                       "brokers": {3: {"disk": "5GB"}}})
    alerts = _alerts(alerting_rules(load_rules(), from_brokers(spec, [1, 2, 3])))
    cluster = alerts["KafkaThroughputUtilizationClusterWarning"]["expr"]
    assert "kafka_server_brokertopicmetrics_bytesin_total" in cluster and "/ 6e+07" in cluster
    disk = alerts["KafkaDiskUtilizationBrokerWarning"]["expr"]
    assert 'broker_id!~"3"' in disk and "/ 1e+10" in disk and 'broker_id="3"' in disk and "/ 5e+09" in disk
    assert not any("Connections" in name for name in alerts)  # not in the capacity file: not judged


@needs_promtool
@pytest.mark.parametrize("args", [(), ("--ckus", "2", "--limits", "confluent-2026"), ("--capacity", "CAP")])
def test_emitted_rules_pass_promtool(cli: CLI, tmp_path: Path, args: tuple[str, ...]) -> None:
    cap = tmp_path / "cap.yaml"
    cap.write_text("broker: {throughput_mb_s: 20, connections: 500, partition_replicas: 1000, disk: 100GB}\n"
                   "brokers: {2: {connections: 100}}\n")
    argv = [str(cap) if a == "CAP" else a for a in args] + (["--brokers", "3"] if "CAP" in args else [])
    out = tmp_path / "alerts.yml"
    code, _o, err = cli("rules", "emit", *argv, "--out", str(out))
    assert code == 0, err
    res = subprocess.run([str(PROMTOOL), "check", "rules", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


@needs_promtool
def test_prometheusrule_resource_carries_the_same_groups(cli: CLI, tmp_path: Path) -> None:
    plain, wrapped = tmp_path / "plain.yml", tmp_path / "rule.yaml"
    assert cli("rules", "emit", "--out", str(plain))[0] == 0
    assert cli("rules", "emit", "--format", "prometheusrule", "--namespace", "kafka", "--out", str(wrapped))[0] == 0
    res = yaml.safe_load(wrapped.read_text())
    assert res["apiVersion"] == "monitoring.coreos.com/v1" and res["kind"] == "PrometheusRule"
    assert res["metadata"]["namespace"] == "kafka"
    assert res["spec"]["groups"] == yaml.safe_load(plain.read_text())["groups"]


@pytest.mark.parametrize("argv, needle", [
    (("--ckus", "2", "--capacity", "x.yaml"), "give one"),
    (("--limits", "design-doc"), "--limits: needs --ckus"),
    (("--brokers", "3"), "--brokers: goes with --capacity"),
    (("--capacity", "x.yaml"), "--capacity: needs --brokers"),
    (("--for", "soon"), "--for:"),
    (("--namespace", "kafka"), "--namespace: only for --format prometheusrule"),
    (("--rules", "RULES"), "throughput.warning"),
])
def test_bad_input_is_one_line_and_exit_2(cli: CLI, tmp_path: Path, argv: tuple[str, ...], needle: str) -> None:
    bad_rules = tmp_path / "rules.yaml"
    bad_rules.write_text("throughput: {warning: lots}\n")
    code, out, err = cli("rules", "emit", *[str(bad_rules) if a == "RULES" else a for a in argv])
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert out == ""


def _check_severity(percent: float, cap: Capacity) -> str | None:
    """What `check` says for a cluster-wide throughput utilization of `percent`."""
    snap = Snapshot(cluster="c", source="test", taken_at=0.0)
    util = Utilization(dimension="throughput", scope="cluster", target="cluster", used=percent,
                       capacity=100.0, percent=percent)
    found = [f for f in evaluate(snap, load_rules(), [util], cap) if f.rule == "throughput"]
    return found[0].severity if found else None


@needs_promtool
def test_prometheus_and_check_agree_on_every_value(tmp_path: Path) -> None:
    """Values on, below and above each line: Prometheus' engine and `check` must name the same severity."""
    cap = Capacity(description="test", unit="broker", units=3, throughput_bytes_per_s=100.0)
    values = [10.0, 69.9, 70.0, 70.1, 84.9, 85.0, 85.1, 150.0]
    rules_path = tmp_path / "alerts.yml"
    rules_path.write_text(yaml.safe_dump(alerting_rules(load_rules(), None, for_="0s")))
    series = ('brokerscale_utilization_percent{cluster="c",dimension="throughput",scope="cluster",'
              'target="cluster"}')
    tests: list[dict[str, Any]] = []
    for i, v in enumerate(values):
        sev = _check_severity(v, cap)
        for name, want in (("KafkaThroughputUtilizationWarning", "warning"),
                           ("KafkaThroughputUtilizationCritical", "critical")):
            exp = [] if sev != want else [{
                "exp_labels": {"severity": want, "rule": "throughput", "scope": "cluster", "source": "brokerscale",
                               "cluster": "c", "dimension": "throughput", "target": "cluster"},
                "exp_annotations": {
                    "summary": f"throughput at {v:.0f}% of provisioned on cluster; {want} above "
                               f"{70 if want == 'warning' else 85}%",
                    "action": "add brokers (`brokerscale check` says how many)"}}]
            tests.append({"eval_time": f"{i}m", "alertname": name, "exp_alerts": exp})
    unit = {"rule_files": [str(rules_path)], "evaluation_interval": "1m",
            "tests": [{"interval": "1m",
                       "input_series": [{"series": series, "values": " ".join(f"{v:g}" for v in values)}],
                       "alert_rule_test": tests}]}
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump(unit, sort_keys=False))
    res = subprocess.run([str(PROMTOOL), "test", "rules", str(test_file)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert [_check_severity(v, cap) for v in values] == [None, None, None, "warning", "warning", "warning",
                                                          "critical", "critical"]


def test_for_zero_fires_at_once_and_the_default_waits_a_minute(cli: CLI, tmp_path: Path) -> None:
    now, later = tmp_path / "now.yml", tmp_path / "later.yml"
    assert cli("rules", "emit", "--for", "0s", "--out", str(now))[0] == 0
    assert cli("rules", "emit", "--out", str(later))[0] == 0
    assert all("for" not in a for a in _alerts(yaml.safe_load(now.read_text())).values())
    assert {a["for"] for a in _alerts(yaml.safe_load(later.read_text())).values()} == {"60s"}
