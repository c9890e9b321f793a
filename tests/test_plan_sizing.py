"""Sizing rules: the seed's golden figures and properties (more load never means a smaller cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokerscale.model.limits import load_limits
from brokerscale.model.workload import load_workload, parse_workload
from brokerscale.plan.model import plan_to_dict
from brokerscale.plan.partitions import CLASS_BOUNDS
from brokerscale.plan.sizing import plan_workload

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PROFILES = ["design-doc", "confluent-2026"]


def _plan(data: dict[str, Any], limits: str = "design-doc") -> dict[str, Any]:
    return plan_to_dict(plan_workload(parse_workload(data), load_limits(limits)))


def _topic(name: str, mps: float, size: int, cls: str = "standard-operational", **kw: Any) -> dict[str, Any]:
    return {"name": name, "class": cls, "messages_per_second": mps, "message_bytes": size, **kw}


def test_seed_health_system_golden_figures() -> None:
    # Seed "Capacity Planning": 50,000 msg/s × 5 KB = 250 MB/s; × 2,592,000 s = 648 TB.
    # Seed "CKU Planning": 250/50 = 5, 15,000/4,000 -> 4, 20,000/4,500 -> 5; take the highest: 5.
    plan = plan_to_dict(plan_workload(load_workload(EXAMPLES / "health-system.yaml"), load_limits()))
    assert plan["throughput"]["ingress_mb_s"] + plan["throughput"]["egress_mb_s"] == pytest.approx(250)
    assert plan["storage"]["bytes"] == pytest.approx(648e12)
    assert plan["confluent"]["ckus_by_dimension"] == {"throughput": 5, "connections": 4, "partitions": 5}
    assert plan["confluent"]["ckus"] == 5
    assert plan["confluent"]["tier"] == "dedicated"
    assert plan["self_managed"]["replication_factor"] == 3
    assert plan["self_managed"]["min_insync_replicas"] == 2
    assert plan["storage"]["replicated_bytes"] == pytest.approx(3 * 648e12)


def test_single_topic_seed_workload_250_mb_s() -> None:
    plan = _plan({"name": "seed", "retention_days": 30, "connections": 15000, "partitions": 20000,
                  "topics": [_topic("clinical.all", 50_000, 5000, "high-volume-clinical")]})
    assert plan["throughput"]["ingress_mb_s"] == pytest.approx(250)
    assert plan["storage"]["tb"] == pytest.approx(648)
    # 1.3 × 250 / 10 = 32.5 -> 33 partitions (a multiple of 3, within 24..126)
    assert plan["topics"][0]["partitions"] == 33


def test_175_mb_s_topic_gets_24_partitions_through_the_planner() -> None:
    plan = _plan({"name": "x", "topics": [_topic("fhir.bundles", 35_000, 5000)]})
    assert plan["topics"][0]["ingress_mb_s"] == pytest.approx(175)
    assert plan["topics"][0]["partitions"] == 24


def test_egress_counts_consumer_groups_and_confluent_2026_splits_it() -> None:
    # 60 MB/s in, 3 groups -> 180 MB/s out: exactly 1 CKU each way in confluent-2026, 5 in design-doc
    wl = {"name": "x", "availability": "single-zone",
          "topics": [_topic("a", 12_000, 5000, consumer_groups=3)]}
    cc = _plan(wl, "confluent-2026")
    assert cc["throughput"]["egress_mb_s"] == pytest.approx(180)
    assert cc["confluent"]["ckus_by_dimension"]["ingress"] == 1
    assert cc["confluent"]["ckus_by_dimension"]["egress"] == 1
    seed = _plan(wl)
    assert seed["confluent"]["ckus_by_dimension"]["throughput"] == 5  # 240 / 50 -> 5
    assert seed["confluent"]["binding_dimension"] == "throughput"


def test_multi_zone_needs_two_ckus_and_says_why() -> None:
    plan = _plan({"name": "x", "availability": "multi-zone", "topics": [_topic("a", 10, 100)]})
    assert plan["confluent"]["ckus"] == 2
    assert plan["confluent"]["binding_dimension"] == "availability"
    assert any(f["rule"] == "ckus.multi_zone_minimum" for f in plan["findings"])
    single = _plan({"name": "x", "availability": "single-zone", "topics": [_topic("a", 10, 100)]})
    assert single["confluent"]["ckus"] == 1


@pytest.mark.parametrize(("example", "tier"), [
    ("small-clinic", "basic"), ("regional-hospital", "standard"), ("health-system", "dedicated")])
def test_examples_land_on_the_seed_tiers(example: str, tier: str) -> None:
    plan = plan_to_dict(plan_workload(load_workload(EXAMPLES / f"{example}.yaml"), load_limits()))
    assert plan["confluent"]["tier"] == tier
    assert plan["confluent"]["tier_reason"]


def test_requirements_rule_out_tiers() -> None:
    small = {"name": "x", "availability": "single-zone", "topics": [_topic("a", 10, 1000)]}
    assert _plan(small)["confluent"]["tier"] == "basic"
    phi = _plan({**small, "requirements": ["phi"]})["confluent"]
    assert phi["tier"] == "standard"
    assert "phi" in phi["tier_reason"]
    assert _plan({**small, "requirements": ["multi-region"]})["confluent"]["tier"] == "dedicated"
    # retention beyond Basic's 7 days also rules Basic out
    assert _plan({**small, "retention_days": 8})["confluent"]["tier"] == "standard"


def test_confluent_2026_tiers_reach_enterprise_before_dedicated() -> None:
    wl = {"name": "x", "partitions": 10_000, "requirements": ["phi"],
          "topics": [_topic("a", 1000, 1000)]}
    assert _plan(wl, "confluent-2026")["confluent"]["tier"] == "enterprise"
    assert _plan({**wl, "partitions": 40_000}, "confluent-2026")["confluent"]["tier"] == "dedicated"


def test_capped_topic_is_a_finding() -> None:
    plan = _plan({"name": "x", "topics": [_topic("huge", 100_000, 5000, "low-volume-reference")]})
    assert plan["topics"][0]["partitions"] == 30
    assert plan["topics"][0]["partitions_capped"]
    finding = next(f for f in plan["findings"] if f["rule"] == "partitions.cap")
    assert finding["target"] == "huge"
    assert "split the topic or raise the cap" in finding["message"]


def test_broker_size_class_and_increment_follow_the_seed_table() -> None:
    small = _plan({"name": "x", "availability": "single-zone", "topics": [_topic("a", 10, 100)]})
    assert (small["self_managed"]["brokers"], small["self_managed"]["size_class"],
            small["self_managed"]["scaling_increment"]) == (3, "small", 2)
    big = _plan({"name": "x", "availability": "single-zone", "retention_days": 30,
                 "topics": [_topic("a", 50_000, 5000)]})
    assert big["self_managed"]["size_class"] == "large"
    assert big["self_managed"]["scaling_increment"] == 5
    assert big["self_managed"]["binding_dimension"] == "storage"


# ---- properties ---------------------------------------------------------------------------------

topic_st = st.fixed_dictionaries({
    "class": st.sampled_from(sorted(CLASS_BOUNDS)),
    "messages_per_second": st.floats(min_value=0.1, max_value=200_000, allow_nan=False),
    "message_bytes": st.integers(min_value=1, max_value=2_000_000),
    "retention_days": st.one_of(st.none(), st.floats(min_value=0.01, max_value=3650)),
    "consumer_groups": st.one_of(st.none(), st.integers(min_value=0, max_value=20)),
})
workload_st = st.fixed_dictionaries({
    "availability": st.sampled_from(["single-zone", "multi-zone"]),
    "connections": st.integers(min_value=0, max_value=500_000),
    "partitions": st.integers(min_value=0, max_value=200_000),
    "retention_days": st.floats(min_value=0.01, max_value=3650),
    "topics": st.lists(topic_st, min_size=1, max_size=6),
})


def _wl(raw: dict[str, Any]) -> dict[str, Any]:
    topics = [{"name": f"t{i}", **{k: v for k, v in t.items() if v is not None}}
              for i, t in enumerate(raw["topics"])]
    return {"name": "prop", **{k: v for k, v in raw.items() if k != "topics"}, "topics": topics}


def _grow(wl: dict[str, Any], what: str, index: int, factor: float) -> dict[str, Any]:
    out = {**wl, "topics": [dict(t) for t in wl["topics"]]}
    topic = out["topics"][index % len(out["topics"])]
    if what in ("connections", "partitions"):
        out[what] = int(out[what] * factor) + 1
    elif what == "messages_per_second":
        topic[what] = topic[what] * factor
    elif what == "message_bytes":
        topic[what] = int(topic[what] * factor) + 1
    elif what == "retention_days":
        topic[what] = topic.get(what, out["retention_days"]) * factor
    elif what == "consumer_groups":
        topic[what] = topic.get(what, 0) + 1
    elif what == "new_topic":
        out["topics"].append({"name": "extra", "class": "low-volume-reference",
                              "messages_per_second": 1, "message_bytes": 1})
    return out


@settings(max_examples=150, deadline=None)
@given(workload_st, st.sampled_from(["connections", "partitions", "messages_per_second", "message_bytes",
                                     "retention_days", "consumer_groups", "new_topic"]),
       st.integers(min_value=0, max_value=10), st.floats(min_value=1.0, max_value=10.0),
       st.sampled_from(PROFILES))
def test_more_load_never_yields_fewer_ckus_brokers_or_partitions(
        raw: dict[str, Any], what: str, index: int, factor: float, profile: str) -> None:
    before_wl = _wl(raw)
    before = _plan(before_wl, profile)
    after = _plan(_grow(before_wl, what, index, factor), profile)
    assert after["confluent"]["ckus"] >= before["confluent"]["ckus"]
    assert after["self_managed"]["brokers"] >= before["self_managed"]["brokers"]
    assert after["partitions"]["total"] >= before["partitions"]["total"]
    for b, a in zip(before["topics"], after["topics"], strict=False):
        assert a["partitions"] >= b["partitions"]
    for t in after["topics"]:
        floor, cap = CLASS_BOUNDS[t["class"]]
        assert t["partitions"] % 3 == 0
        assert floor <= t["partitions"] <= cap
    ckus = after["confluent"]["ckus"]
    assert ckus == max([*after["confluent"]["ckus_by_dimension"].values(),
                        2 if raw["availability"] == "multi-zone" else 1])
