"""`scale run` wiring: bad input is one line and exit 2; the Strimzi target drives the Kubernetes API (a
recorded stand-in: no API server can run here) while reading load from the real cluster; a self-managed
cluster brokerscale did not start is never scaled onto brokers that do not exist."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

BROKERSCALE = str(Path(sys.executable).parent / "brokerscale")


def _policy(tmp_path: Path, **fields: object) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(yaml.safe_dump({"unit": "broker", "min_units": 2, "max_units": 6, **fields}))
    return p


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "kubernetes"], "--target: 'kubernetes' is not one of selfmanaged, confluent, strimzi"),
    (["--target", "confluent", "--cluster-id", "lkc-1", "--environment", "env-1", "--emit", "terraform"],
     "--emit, --workload and --emit-dir: give all three"),
    (["--target", "strimzi", "--bootstrap", "127.0.0.1:1"], "--strimzi-cluster: the Kafka resource's name is needed"),
    (["--target", "selfmanaged", "--throttle", "fast"], "--throttle"),
])
def test_bad_run_options_are_one_line_and_exit_2(cli: Any, tmp_path: Path, args: list[str], message: str) -> None:
    code, out, err = cli("scale", "run", "--policy", _policy(tmp_path), *args)
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_emit_kind_and_workload_are_checked_before_anything_runs(cli: Any, tmp_path: Path) -> None:
    code, _out, err = cli("scale", "run", "--target", "confluent", "--cluster-id", "lkc-1", "--environment", "env-1",
                          "--policy-name", "default", "--workload", tmp_path / "missing.yaml", "--emit", "terraform",
                          "--emit-dir", tmp_path)
    assert code == 2 and "missing.yaml" in err
    workload = Path(__file__).resolve().parent.parent / "examples" / "health-system.yaml"
    code, _out, err = cli("scale", "run", "--target", "confluent", "--cluster-id", "lkc-1", "--environment", "env-1",
                          "--policy-name", "default", "--workload", workload, "--emit", "helm", "--emit-dir", tmp_path)
    assert code == 2 and "--emit: 'helm' is not one of" in err


def test_strimzi_without_a_kubeconfig_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    res = subprocess.run([BROKERSCALE, "scale", "run", "--target", "strimzi", "--strimzi-cluster", "kafka",
                          "--bootstrap", "127.0.0.1:1", "--policy", str(_policy(tmp_path))],
                         env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    assert "kubeconfig: cannot load it" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.kafka
def test_strimzi_target_reads_the_node_pool_and_the_clusters_load(bootstrap: str, tmp_path: Path) -> None:
    """Dry run against a recorded Kubernetes API: the pool's size is the unit count; nothing is patched."""
    from test_scale_strimzi import FakeApiServer

    server = FakeApiServer(replicas=3)
    try:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "test",
            "clusters": [{"name": "test", "cluster": {"server": server.url}}],
            "users": [{"name": "test", "user": {"token": "t"}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test", "namespace": "health"}}]}))
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "BROKERSCALE_STORE_URL": f"sqlite:///{tmp_path / 's.db'}"}
        res = subprocess.run([BROKERSCALE, "scale", "run", "--target", "strimzi", "--namespace", "health",
                              "--strimzi-cluster", "healthcare-kafka", "--node-pool", "brokers", "--bootstrap",
                              bootstrap, "--policy", str(_policy(tmp_path, min_units=4)), "--interval", "2s",
                              "--duration", "10s"], env=env, capture_output=True, text=True, timeout=120)
    finally:
        server.http.shutdown()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "scale run: strimzi:health/healthcare-kafka/brokers" in res.stdout
    # three pool replicas under a minimum of four: a dry run says what it would do and does not do it
    assert "broker 3: up 3 -> 4: below the minimum of 4 brokers (dry run)" in res.stdout, res.stdout
    assert any(m == "GET" and p.endswith("/kafkanodepools/brokers") for m, p, _c, _b in server.requests)
    assert not [r for r in server.requests if r[0] in ("PATCH", "POST")]


@pytest.mark.kafka
def test_a_cluster_brokerscale_did_not_start_needs_registered_brokers(bootstrap: str, tmp_path: Path) -> None:
    """Not a dev cluster (as brokerscale sees it): a scale-up with no empty broker registered fails its
    pre-check with what to do, and nothing is recorded as intended or requested."""
    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe.collect import Observer
    from brokerscale.observe.rules import load_rules
    from brokerscale.scale.actuators.selfmanaged import SelfManagedActuator
    from brokerscale.scale.controller import Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import parse_policy
    from brokerscale.store import open_store

    prof = ConnectionProfile(bootstrap)
    obs = Observer(prof, load_rules(), date_lag=False)
    act = SelfManagedActuator(prof, obs, tmp_path / "work", dev_name=None, log=lambda _m: None)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        assert act.units() == (3, None)  # the session cluster: three brokers, all holding replicas
        assert act.shortfall(3) is None
        why = act.shortfall(5)
        assert why is not None and "start and register 2 more broker(s) (no empty broker registered)" in why
        pol = parse_policy({"unit": "broker", "min_units": 5, "max_units": 6}, "test")  # below the minimum
        logged: list[str] = []
        ctl = Controller(act, pol, resolve_capacity(None, "broker"), store, apply=True, log=logged.append)
        rnd = ctl.round()
        assert rnd.decision is not None and (rnd.decision.action, rnd.decision.target) == ("up", 5)
        assert not rnd.acted and rnd.result == "pre-checks failed"
        assert any("pre-check capacity available: FAIL (brokerscale cannot start machines" in m for m in logged)
        assert store.audit_records("scale.") == []
        assert not act.op_path.exists()
    finally:
        store.close()
        obs.close()


@pytest.mark.kafka
def test_a_change_cut_off_by_kill_9_is_finished_once_on_restart(bootstrap: str, tmp_path: Path) -> None:
    """The state `kill -9` leaves when it lands after the drained broker was removed but before the result
    was written: the intent is pending and the operation file still names the change. A restarted
    controller finishes the record from the cluster's real state and never starts a second drain."""
    import json

    from brokerscale.connect import ConnectionProfile
    from brokerscale.observe.collect import Observer
    from brokerscale.observe.rules import load_rules
    from brokerscale.scale.actuators.selfmanaged import SelfManagedActuator
    from brokerscale.scale.controller import ACTOR, Controller
    from brokerscale.scale.demand import resolve_capacity
    from brokerscale.scale.policy import parse_policy
    from brokerscale.store import open_store

    prof = ConnectionProfile(bootstrap)
    obs = Observer(prof, load_rules(), date_lag=False)
    logged: list[str] = []
    act = SelfManagedActuator(prof, obs, tmp_path / "work", dev_name=None, log=logged.append)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    pol = parse_policy({"unit": "broker", "min_units": 3, "max_units": 6}, "test")
    try:
        crashed = store.audited(actor=ACTOR, action="scale.down", target=act.target,
                                intent={"from": 4, "to": 3, "direction": "down"}, before={"units": 4})
        crashed.__enter__()  # the intent row is written; the process dies before the result row
        act.op_path.write_text(json.dumps({"direction": "down", "from_units": 4, "to_units": 3, "brokers": [99]}))
        assert act.units() == (4, 3)  # the change is in flight as far as the controller can tell

        ctl = Controller(act, pol, resolve_capacity(None, "broker"), store, apply=True, log=logged.append)
        notes = ctl.reconcile()
        assert len(notes) == 1 and notes[0].startswith(
            "reconciled scale.down to 3: the request had reached the platform (in effect"), notes
        records = [r for r in store.audit_records("scale.") if r["target"] == act.target]
        assert [(r["action"], r["result"], r["after"]["units"]) for r in records] == [("scale.down", "ok", 3)]
        assert not act.op_path.exists() and act.units() == (3, None)
        assert not store.audit_records("rebalance.")  # nothing left to drain: no second rebalance
        assert ctl.reconcile() == []  # a second restart finds nothing to do

        # An attempt that failed (its intent has an error result) and left its operation file behind is
        # finished under a new, truthful intent.
        act.op_path.write_text(json.dumps({"direction": "down", "from_units": 4, "to_units": 3, "brokers": [99]}))
        assert ctl.reconcile() == ["finished an interrupted down to 3 (its earlier attempt had failed)"]
        records = [r for r in store.audit_records("scale.") if r["target"] == act.target]
        assert records[0]["result"] == "ok" and records[0]["intent"]["trigger"] == "resume"
        assert act.units() == (3, None)
    finally:
        store.close()
        obs.close()


def test_an_unreachable_cluster_is_a_failed_round_not_the_end_of_the_controller(tmp_path: Path) -> None:
    """`scale run` lives for months: a cluster that does not answer (an outage, a refused port here) fails
    that round, logged with the reason, and the next round tries again; only a run that never reached its
    cluster ends with the outage's exit code (69)."""
    cap = tmp_path / "capacity.yaml"
    cap.write_text("broker:\n  throughput_mb_s: 100\n  disk: 100GB\n")
    env = {**os.environ, "BROKERSCALE_DATA_DIR": str(tmp_path / "data")}
    res = subprocess.run([BROKERSCALE, "scale", "run", "--target", "selfmanaged", "--bootstrap", "127.0.0.1:1",
                          "--policy-name", "default", "--limits", str(cap), "--interval", "1s", "--duration", "10s"],
                         env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 69, res.stdout + res.stderr
    failed = [line for line in res.stderr.splitlines() if "round failed: cannot reach Kafka at 127.0.0.1:1" in line]
    assert len(failed) >= 2, res.stderr  # the old loop ended at the first refused round
    assert res.stderr.strip().splitlines()[-1].startswith("error: cannot reach Kafka at 127.0.0.1:1")
    assert "Traceback" not in res.stderr
