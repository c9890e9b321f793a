"""DR topology file, the data-sovereignty rule and the generated MirrorMaker 2 configuration (no cluster)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from brokerscale.dr.mm2 import mm2_properties, redacted, render
from brokerscale.dr.sovereignty import check_classes, exclusion_patterns, refusals
from brokerscale.dr.topology import load_topology, parse_topology
from brokerscale.errors import BadInput
from brokerscale.topics.policy import default_policy

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dr-topology.yaml"


def _doc(**flow: object) -> dict[str, object]:
    base: dict[str, object] = {"source": "primary", "target": "analytics", "topics": [".*"]}
    return {
        "clusters": {
            "primary": {"dev": "east", "region": "us-east-1", "jurisdiction": "US"},
            "dr": {"dev": "west", "region": "us-west-2", "jurisdiction": "US"},
            "analytics": {"dev": "eu", "region": "eu-west-1", "jurisdiction": "EU"},
        },
        "flows": {"f": {**base, **flow}},
    }


def test_shipped_example_loads() -> None:
    topo = load_topology(EXAMPLE)
    assert set(topo.flows) == {"primary-dr", "primary-analytics"}
    assert topo.clusters["analytics"].jurisdiction == "EU"
    assert topo.flows["primary-dr"].directions() == [("primary", "dr")]


@pytest.mark.parametrize(("text", "expected"), [
    ("clusters: {}\nflows: {}\n", r"t\.yaml: clusters: .*at least 2"),
    ("clusterz: {}\n", r"t\.yaml: clusterz: unknown field \(did you mean 'clusters'\?\)"),
    ("- a\n", r"t\.yaml: \(top level\): must be a mapping"),
    ("clusters: {a: 1\n", r"t\.yaml: line \d+: not valid YAML"),
])
def test_bad_files_are_one_line_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(BadInput) as info:
        load_topology(path)
    assert info.value.exit_code == 2
    assert "\n" not in info.value.message
    assert re.search(expected, info.value.message), info.value.message


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"target": "nowhere"}, "flows.f.target", "no cluster named 'nowhere'"),
    ({"topics": ["clinical\\.("]}, "flows.f.topics", "not a valid regular expression"),
    ({"mode": "both-ways"}, "flows.f.mode", "input should be"),
    ({"mode": "active-active"}, "flows.f", "identity cannot be used with mode active-active"),
    ({"target": "primary"}, "flows.f", "target: must differ from source"),
    ({"replication_factor": 0}, "flows.f.replication_factor", "greater than or equal to 1"),
    ({"topic": ["x"]}, "flows.f.topic", "unknown field (did you mean 'topics'?)"),
])
def test_bad_flow_fields_are_named(change: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_topology(_doc(**change), "topo.yaml")
    assert info.value.message.startswith(f"topo.yaml: {field}: "), info.value.message
    assert reason in info.value.message


def test_cluster_needs_exactly_one_location_and_a_jurisdiction_code() -> None:
    doc = _doc()
    doc["clusters"]["dr"] = {"dev": "west", "config": "prod", "region": "r", "jurisdiction": "US"}  # type: ignore[index]
    with pytest.raises(BadInput, match=r"topo.yaml: clusters.dr: .*exactly one of dev, config or confluent"):
        parse_topology(doc, "topo.yaml")
    doc = _doc()
    doc["clusters"]["dr"]["jurisdiction"] = "us"  # type: ignore[index]
    with pytest.raises(BadInput, match=r"topo.yaml: clusters.dr.jurisdiction: "):
        parse_topology(doc, "topo.yaml")


def test_two_flows_in_the_same_direction_are_refused() -> None:
    doc = _doc()
    doc["flows"]["g"] = {"source": "primary", "target": "analytics", "topics": ["x"]}  # type: ignore[index]
    with pytest.raises(BadInput, match=r"topo.yaml: flows.g: copies primary -> analytics like flow 'f'"):
        parse_topology(doc, "topo.yaml")


def test_phi_topic_into_disallowed_jurisdiction_is_refused_naming_topic_class_and_jurisdiction() -> None:
    topo = parse_topology({**_doc(topics=["clinical\\..*", "ops\\..*", "fhir\\..*"]),
                           "data_sovereignty": {"phi_jurisdictions": ["US"]}}, "topo.yaml")
    found = refusals(topo, default_policy(), "f", topo.flows["f"],
                     {"primary": ["clinical.adt", "ops.metrics", "fhir.observation", "hl7.oru"]})
    assert [(r.topic, r.topic_class, r.jurisdiction) for r in found] == [
        ("clinical.adt", "clinical", "EU"), ("fhir.observation", "fhir", "EU")]
    assert "topic 'clinical.adt' (PHI class clinical)" in found[0].message
    assert "jurisdiction EU" in found[0].message


def test_same_jurisdiction_and_per_class_overrides_are_allowed() -> None:
    doc = _doc(target="dr", topics=[".*"])
    topo = parse_topology(doc, "topo.yaml")  # no rule: PHI stays in the source's jurisdiction (US -> US ok)
    assert refusals(topo, default_policy(), "f", topo.flows["f"], {"primary": ["clinical.adt"]}) == []
    rule = {"phi_jurisdictions": ["US"], "classes": {"fhir": ["US", "EU"]}}
    topo = parse_topology({**_doc(), "data_sovereignty": rule}, "topo.yaml")
    found = refusals(topo, default_policy(), "f", topo.flows["f"], {"primary": ["fhir.obs", "clinical.adt"]})
    assert [r.topic for r in found] == ["clinical.adt"]


def test_active_active_checks_both_directions() -> None:
    doc = _doc(mode="active-active", replication_policy="default")
    topo = parse_topology(doc, "topo.yaml")
    found = refusals(topo, default_policy(), "f", topo.flows["f"], {"analytics": ["clinical.eu-notes"]})
    assert [(r.source, r.target, r.jurisdiction) for r in found] == [("analytics", "primary", "US")]


def test_sovereignty_class_must_exist_and_be_phi() -> None:
    topo = parse_topology({**_doc(), "data_sovereignty": {"classes": {"clinicl": ["US"]}}}, "topo.yaml")
    assert "data_sovereignty.classes.clinicl: no such class" in str(check_classes(topo, default_policy(), "topo.yaml"))
    topo = parse_topology({**_doc(), "data_sovereignty": {"classes": {"operational": ["US"]}}}, "topo.yaml")
    assert "is not PHI" in str(check_classes(topo, default_policy(), "topo.yaml"))


def test_generated_config_excludes_every_disallowed_phi_prefix_for_topics_created_later() -> None:
    topo = parse_topology({**_doc(topics=[".*"]), "data_sovereignty": {"phi_jurisdictions": ["US"]}}, "topo.yaml")
    excl = exclusion_patterns(topo, default_policy(), "primary", "analytics")
    flow = topo.flows["f"]
    props = mm2_properties("f", flow, {"primary": {}, "analytics": {}},
                           {"primary": "127.0.0.1:1", "analytics": "127.0.0.1:2"}, {("primary", "analytics"): excl})
    exclude = [p.strip() for p in props["primary->analytics.topics.exclude"].split(",")]
    for later in ("clinical.new-unit", "hl7.fhir.bundle", "adt.a01", "encounter.x", "fhir.patient"):
        assert any(re.fullmatch(p, later) for p in exclude), later
    for fine in ("ops.metrics", "reference.loinc"):
        assert not any(re.fullmatch(p, fine) for p in exclude), fine
    assert props["analytics->primary.enabled"] == "false"
    assert props["sync.group.offsets.enabled"] == "true" and props["emit.checkpoints.enabled"] == "true"
    assert props["replication.policy.class"].endswith("IdentityReplicationPolicy")
    assert props["replication.factor"] == "3" and props["offset-syncs.topic.replication.factor"] == "3"
    # no exclusions between two US clusters
    assert exclusion_patterns(topo, default_policy(), "primary", "dr") == []


def test_secrets_only_in_the_file_and_redacted_when_shown() -> None:
    topo = parse_topology(_doc(target="dr"), "topo.yaml")
    jaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="s3cret";'
    props = mm2_properties("f", topo.flows["f"], {"primary": {"sasl.jaas.config": jaas}, "dr": {}},
                           {"primary": "h:1", "dr": "h:2"}, {})
    assert props["primary.sasl.jaas.config"] == jaas
    assert "s3cret" not in str(redacted(props))
    text = render(props, "flow f")
    assert 'password="s3cret"' in text and text.startswith("# flow f")


def test_failover_fence_is_never_synced_to_the_other_cluster() -> None:
    topo = parse_topology(_doc(target="dr"), "topo.yaml")
    props = mm2_properties("f", topo.flows["f"], {}, {"primary": "h:1", "dr": "h:2"}, {})
    excluded = [p.strip() for p in props["config.properties.exclude"].split(",")]
    assert any(re.fullmatch(p, "max.message.bytes") for p in excluded)
    assert any(re.fullmatch(p, "min.insync.replicas") for p in excluded)  # MirrorMaker's own default kept
    assert not any(re.fullmatch(p, "retention.ms") for p in excluded)


def test_cli_bad_topology_is_one_line_exit_2_before_any_cluster_is_contacted(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "topology.yaml"
    bad.write_text("clusters:\n  a: {dev: x, region: r, jurisdiction: US}\n  b: {dev: y, region: r, jurisdiction: US}\n"
                   "flows:\n  f: {source: a, target: c, topics: ['.*']}\n")
    code, out, err = cli("dr", "up", "--topology", bad, "--apply")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert f"{bad}: flows.f.target: no cluster named 'c'" in " ".join(err.split())
    code, _, err = cli("dr", "up", "--topology", tmp_path / "missing.yaml")
    assert code == 2 and "missing.yaml: no such file" in " ".join(err.split())
    code, _, err = cli("dr", "up", "--topology", EXAMPLE, "--flow", "nope")
    assert code == 2 and "--flow: no flow named 'nope'" in " ".join(err.split())


def test_every_refused_phi_topic_is_named_in_the_one_line() -> None:
    from brokerscale.dr.flows import refuse
    from brokerscale.dr.sovereignty import Refusal

    found = [Refusal("primary-analytics", t, "clinical", "primary", "analytics", "EU", ("US",))
             for t in ("clinical.adt", "clinical.orders", "clinical.labs")]
    with pytest.raises(BadInput) as info:
        refuse(found)
    message = info.value.message
    assert "\n" not in message and "(and " not in message and message.endswith("nothing was started")
    assert all(f"'{t}'" in message for t in ("clinical.adt", "clinical.orders", "clinical.labs"))
    refuse([])  # nothing refused: nothing raised


def test_failover_dry_run_lists_the_runbook_and_touches_nothing(cli) -> None:  # type: ignore[no-untyped-def]
    from brokerscale.dr.failover import STEPS

    code, out, _ = cli("dr", "failover", "--flow", "primary-dr", "--topology", EXAMPLE)
    assert code == 0 and "dry run: nothing done" in out
    assert [line.strip() for line in out.splitlines()[1:-1]] == [f"{i}. {s}" for i, s in enumerate(STEPS, 1)]
    code, out, _ = cli("dr", "failover", "--flow", "primary-dr", "--topology", EXAMPLE, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["dry_run"] is True and doc["steps"] == list(STEPS)
    assert (doc["source"], doc["target"]) == ("primary", "dr")
    code, _, err = cli("dr", "failback", "--flow", "primary-dr", "--topology", EXAMPLE)
    assert code == 1 and "no failover recorded" in err  # nothing was failed over, so nothing to fail back


@pytest.mark.parametrize(("clusters", "flow", "expected"), [
    ({"analytics": {"confluent": "lkc-eu1", "region": "r", "jurisdiction": "EU"}}, {},
     "topo.yaml: clusters.analytics: environment: a confluent cluster needs its environment id"),
    ({"analytics": {"confluent": "lkc-eu1", "environment": "env-1", "region": "r", "jurisdiction": "EU"}}, {},
     "topo.yaml: flows.f: primary and analytics must both be Confluent clusters (a cluster link) or both "
     "self-managed (MirrorMaker 2)"),
    ({"primary": {"confluent": "lkc-us1", "environment": "env-1", "region": "r", "jurisdiction": "US"},
      "analytics": {"confluent": "lkc-eu1", "environment": "env-1", "region": "r", "jurisdiction": "EU"}},
     {"mode": "active-active", "replication_policy": "default"},
     "topo.yaml: flows.f.mode: a cluster link copies one way"),
    ({"primary": {"confluent": "lkc-us1", "environment": "env-1", "region": "r", "jurisdiction": "US"},
      "analytics": {"confluent": "lkc-eu1", "environment": "env-1", "region": "r", "jurisdiction": "EU"}},
     {"replication_policy": "default"}, "topo.yaml: flows.f.replication_policy: a cluster link keeps topic names"),
    ({"dr": {"dev": "west", "credentials_file": "/x", "region": "r", "jurisdiction": "US"}}, {},
     "topo.yaml: clusters.dr: credentials_file: only for a confluent cluster"),
])
def test_confluent_flows_are_links_between_two_confluent_clusters(
        clusters: dict[str, object], flow: dict[str, object], expected: str) -> None:
    doc = _doc(**flow)
    doc["clusters"].update(clusters)  # type: ignore[attr-defined]
    with pytest.raises(BadInput) as info:
        parse_topology(doc, "topo.yaml")
    assert info.value.message.startswith(expected), info.value.message
    assert "\n" not in info.value.message


def test_link_group_filters_follow_the_flow_group_regexes() -> None:
    from brokerscale.dr.links import group_filter

    assert group_filter(".*") == {"name": "*", "patternType": "LITERAL", "filterType": "INCLUDE"}
    assert group_filter("ehr-ingest") == {"name": "ehr-ingest", "patternType": "LITERAL", "filterType": "INCLUDE"}
    assert group_filter("adt\\.router\\..*") == {"name": "adt.router.", "patternType": "PREFIXED",
                                                "filterType": "INCLUDE"}
    assert group_filter("a|b") is None and group_filter("[ab]x") is None
