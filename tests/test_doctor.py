"""`doctor` without a cluster: which verbs follow from which permissions, and whose principal it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brokerscale.connect import ConnectionProfile
from brokerscale.doctor.report import VERB_NEEDS, principal_of, verb_access
from brokerscale.kafka.permissions import PERMISSIONS, Permission


def _perms(allowed: dict[str, bool | None]) -> list[Permission]:
    return [Permission(k, op, res, allowed.get(k, True)) for k, (op, res) in PERMISSIONS.items()]


def test_every_verb_names_only_known_permissions() -> None:
    assert all(set(needs) <= set(PERMISSIONS) for needs in VERB_NEEDS.values())


def test_a_read_only_principal_runs_the_read_verbs_and_is_told_what_apply_lacks() -> None:
    denied = {"alter-configs-topics": False, "alter-topics": False, "alter-cluster": False,
              "alter-configs-cluster": False, "create-topics": False}
    access = {v.verb: v for v in verb_access(_perms(denied))}
    assert access["observe, check, exporter, web"].can_run is True
    assert access["lag"].can_run is True and access["rebalance propose, status"].can_run is True
    apply = access["topics optimize --apply, topics apply"]
    assert apply.can_run is False and apply.missing == ["AlterConfigs on Topic:*", "Alter on Topic:*"]
    execute = access["rebalance execute --apply, cancel --apply"]
    assert execute.missing == ["Alter on Cluster:kafka-cluster", "AlterConfigs on Cluster:kafka-cluster",
                               "AlterConfigs on Topic:*"]


def test_a_permission_that_could_not_be_asked_makes_the_verb_unknown_not_runnable() -> None:
    access = {v.verb: v for v in verb_access(_perms({"describe-groups": None}))}
    assert access["lag"].can_run is None and access["lag"].unknown == ["Describe on Group:*"]
    assert access["topics list, hot, optimize (dry run)"].can_run is True


def test_principal_comes_from_the_sasl_user_or_the_certificate_never_the_secret(tmp_path: Path) -> None:
    jaas = ('org.apache.kafka.common.security.scram.ScramLoginModule required username="reader" '
            'password="s3cr3t-value";')
    sasl = ConnectionProfile("h:9093", {"security.protocol": "SASL_SSL", "sasl.jaas.config": jaas})
    assert principal_of(sasl) == "User:reader"
    from brokerscale.dev.security import Security

    sec = Security("mtls", False, tmp_path / "security")
    sec.generate()
    props: dict[str, Any] = {}
    for line in sec.properties_file("admin").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            props[k] = v
    assert principal_of(ConnectionProfile("h:9093", props)) == "User:admin"
    assert principal_of(ConnectionProfile("h:9092")) == "User:ANONYMOUS"
