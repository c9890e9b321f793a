"""What `dev up` / `dev status` print, for people and for scripts (issue 14, defect 3)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from brokerscale.dev.cluster import DevCluster, Node


@pytest.fixture()
def stopped_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DevCluster:
    """The saved state of a 3-broker dev cluster (not running: the output does not need JVMs)."""
    monkeypatch.setenv("BROKERSCALE_DATA_DIR", str(tmp_path))
    root = DevCluster.clusters_dir() / "shown"
    root.mkdir(parents=True)
    c = DevCluster("shown", root, "abcdefghijklmnopqrstuv", Node(100, "controller", 31000, 31001))
    for i in (1, 2, 3):
        c.nodes[i] = Node(i, "broker", 32000 + i, 33000 + i, "abc"[i - 1])
    c.save()
    return c


def test_the_bootstrap_line_comes_first_and_every_address_printed_is_a_broker(stopped_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    # Regression: the table listed the controller first, so a script taking the first 127.0.0.1:PORT
    # of `dev up`'s output got the controller's port.
    code, out, _ = cli("dev", "status", "--name", "shown")
    assert code == 0
    first = out.strip().splitlines()[0]
    assert first == "bootstrap servers: 127.0.0.1:32001,127.0.0.1:32002,127.0.0.1:32003"
    addresses = re.findall(r"(?<!//)127\.0\.0\.1:(\d+)", out)  # not the metrics URLs
    assert addresses and set(addresses) == {"32001", "32002", "32003"}
    assert "31000" in out and "not for clients" in out  # the controller is still shown, as a port
    assert "--format json" in out  # and the output says how scripts should read it


def test_status_json_is_the_documented_way_for_scripts(stopped_cluster, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("dev", "status", "--name", "shown", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["bootstrap"] == "127.0.0.1:32001,127.0.0.1:32002,127.0.0.1:32003"
    assert [b["port"] for b in doc["brokers"]] == [32001, 32002, 32003]
    assert doc["controller"]["port"] == 31000
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "dev status --format json" in readme
