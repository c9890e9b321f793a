"""Confluent cluster links for DR against the emulator: create a link, mirror topics, read the lag per
partition, promote (waits for lag 0) and fail over (stops at once: the lag is the RPO) — every request
brokerscale sends and every answer the emulator gives validated against Confluent's Kafka REST v3 file."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from brokerscale.cloud.cmk import ClusterManagementClient
from brokerscale.cloud.http import CloudAPIError, CloudHTTP
from brokerscale.cloud.kafkarest import KafkaRestClient
from cloud_contract import ContractLog
from cloud_fixtures import running_emulator


def test_cluster_link_create_mirror_lag_promote_and_failover(tmp_path: Path) -> None:
    log = ContractLog()
    with running_emulator(tmp_path) as emu:
        http = CloudHTTP(emu.url, emu.creds, event_hooks=log.hooks())
        cmk = ClusterManagementClient(http)
        dr = KafkaRestClient.for_cluster(cmk.get_cluster("lkc-clinic1", "env-health"), emu.creds,
                                         event_hooks=log.hooks())
        secret = "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required " \
                 "username='KEY' password='link-s3cret';"
        dr.create_link("primary-dr", "lkc-health1", {"bootstrap.servers": "pkc-1:9092", "sasl.jaas.config": secret},
                       validate_only=True)
        assert "primary-dr" not in [ln["link_name"] for ln in dr.list_links()]
        dr.create_link("primary-dr", "lkc-health1", {"bootstrap.servers": "pkc-1:9092", "sasl.jaas.config": secret})
        link = next(ln for ln in dr.list_links() if ln["link_name"] == "primary-dr")
        assert link["source_cluster_id"] == "lkc-health1" and link["topic_names"] == []
        with pytest.raises(CloudAPIError):
            dr.create_link("primary-dr", "lkc-health1")  # exists already
        dr.create_mirror("primary-dr", "clinical.adt")
        dr.create_mirror("primary-dr", "fhir.resources")
        with pytest.raises(CloudAPIError):
            dr.create_mirror("primary-dr", "no.such.topic")
        m = dr.get_mirror("primary-dr", "clinical.adt")
        assert (m["mirror_status"], m["num_partitions"], m["source_topic_name"]) == ("ACTIVE", 12, "clinical.adt")
        assert dr.get_topic("clinical.adt")["partitions_count"] == 12  # the mirror topic exists on the target

        # The link falls behind: lag per partition is what the link reports.
        with emu.state.lock:
            mirrors = emu.state.cluster("lkc-clinic1").links[-1].mirrors  # type: ignore[union-attr]
            mirrors[0].lags = [p * 10 for p in range(12)]
            mirrors[1].lags = [7] * 24
        lags = {x["mirror_topic_name"]: sum(p["lag"] for p in x["mirror_lags"]) for x in dr.list_mirrors("primary-dr")}
        assert lags == {"clinical.adt": 660, "fhir.resources": 168}

        # Planned switch: promote waits until the mirror caught up, then stops it (no data lost).
        [res] = dr.alter_mirrors("primary-dr", "promote", ["clinical.adt"])
        assert res["error_code"] is None and sum(p["lag"] for p in res["mirror_lags"]) == 660
        assert dr.get_mirror("primary-dr", "clinical.adt")["mirror_status"] == "PENDING_STOPPED"
        deadline = time.monotonic() + 30
        while dr.get_mirror("primary-dr", "clinical.adt")["mirror_status"] != "STOPPED":
            assert time.monotonic() < deadline, "promote never finished"
            time.sleep(0.3)
        assert sum(p["lag"] for p in dr.get_mirror("primary-dr", "clinical.adt")["mirror_lags"]) == 0

        # Unplanned switch (source region down): failover stops at once; what was behind is the RPO.
        [res] = dr.alter_mirrors("primary-dr", "failover", ["fhir.resources"])
        after = dr.get_mirror("primary-dr", "fhir.resources")
        assert after["mirror_status"] == "STOPPED" and sum(p["lag"] for p in after["mirror_lags"]) == 168
    log.assert_clean()
    assert {"POST /kafka/v3/clusters/lkc-clinic1/links", "POST /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors",
            "GET /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors/clinical.adt",
            "POST /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors:promote",
            "POST /kafka/v3/clusters/lkc-clinic1/links/primary-dr/mirrors:failover"} <= log.operations
    # the link's credentials went in a request body only: never in a URL the emulator saw
    assert all("link-s3cret" not in op for op in log.operations)
