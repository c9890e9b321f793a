"""Trusted construction (no validation) must give models that behave and dump exactly as validated ones."""

from __future__ import annotations

import pytest

from brokerscale.model.snapshot import LagStatus, PartitionLag, PartitionState
from brokerscale.model.trusted import trusted_builder


def test_a_trusted_model_dumps_and_compares_as_a_validated_one() -> None:
    values = dict(reason="consumer is making progress", topic="adt.inbound", partition=7, committed_offset=5,
                  log_end_offset=10, log_start_offset=0, lag_offsets=5, lag_seconds=12.5,
                  lag_seconds_lower_bound=True, expired_offsets=0, status=LagStatus.STALL)  # not in field order
    ours = trusted_builder(PartitionLag)(**values)
    theirs = PartitionLag(**values)
    assert ours == theirs
    assert ours.model_dump_json() == theirs.model_dump_json()
    assert ours.model_dump(mode="json") == theirs.model_dump(mode="json")
    assert ours.model_copy(update={"lag_offsets": 9}).lag_offsets == 9
    assert ours.lag_offsets == 5  # the copy has its own fields


def test_each_trusted_instance_has_its_own_fields() -> None:
    build = trusted_builder(PartitionState)
    a = build(partition=0, leader=1, replicas=[1, 2], isr=[1, 2], size_bytes=None, log_start_offset=0,
              log_end_offset=3)
    b = build(partition=1, leader=2, replicas=[2, 1], isr=[2], size_bytes=None, log_start_offset=0,
              log_end_offset=4)
    a.size_bytes = 100
    assert b.size_bytes is None and b.under_replicated and not a.under_replicated
    assert a.model_dump() == PartitionState(partition=0, leader=1, replicas=[1, 2], isr=[1, 2], size_bytes=100,
                                            log_start_offset=0, log_end_offset=3).model_dump()


@pytest.mark.parametrize("values", [
    {"partition": 0},  # fields missing: a validated model would fill defaults the trusted one cannot know
    {"partition": 0, "leader": 1, "replicas": [1], "isr": [1], "size_bytes": None, "log_start_offset": 0,
     "log_end_offset": 3, "rack": "a"},  # a field the model does not have
])
def test_a_trusted_builder_refuses_other_than_exactly_the_models_fields(values: dict[str, object]) -> None:
    with pytest.raises(TypeError, match="PartitionState"):
        trusted_builder(PartitionState)(**values)
