"""kafka-python's exceptions as brokerscale's one-line errors (`brokerscale.kafka.errors`)."""

from __future__ import annotations

import pytest
from kafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from brokerscale.errors import NotAuthorized, OperationFailed, Unreachable
from brokerscale.kafka.errors import describe, translate


def test_the_error_name_is_said_once() -> None:
    # kafka-python's str() already starts with the class name: "NodeNotReadyError: No node_id provided"
    assert describe(NodeNotReadyError("No node_id provided")) == "NodeNotReadyError: No node_id provided"
    assert describe(KafkaConnectionError("111 ECONNREFUSED")) == "KafkaConnectionError: 111 ECONNREFUSED"
    assert describe(KafkaTimeoutError()) == "KafkaTimeoutError"
    assert describe(OSError("no route to host")) == "OSError: no route to host"


def test_a_long_message_is_cut_to_its_first_line() -> None:
    text = describe(UnknownTopicOrPartitionError("first line\nResponse(topics=[...a whole repr...])"))
    assert text == "UnknownTopicOrPartitionError: first line"
    assert len(describe(OSError("x" * 1000))) == 300


def test_an_outage_a_refusal_and_a_missing_acl_are_told_apart() -> None:
    down = translate(NodeNotReadyError("No node_id provided"), "describe cluster", "127.0.0.1:9092")
    assert isinstance(down, Unreachable)
    assert str(down) == "describe cluster failed on 127.0.0.1:9092: NodeNotReadyError: No node_id provided"
    refused = translate(UnknownTopicOrPartitionError("t"), "create partitions", "c", write=True)
    assert isinstance(refused, OperationFailed) and not isinstance(refused, Unreachable)
    acl = translate(TopicAuthorizationFailedError(), "alter configs", "c", write=True)
    assert isinstance(acl, NotAuthorized) and "brokerscale doctor" in str(acl)


def test_a_failed_change_is_recorded_in_the_audit_log_with_its_name_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The audit log keeps a failed change's whole error text, and says the error's name once."""
    from brokerscale.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(NodeNotReadyError), store.audited(actor="t", action="topics.apply", target="adt"):
            raise NodeNotReadyError("No node_id provided")
        errors = [e.get("error") for e in store.audit_records() if e.get("error")]
    finally:
        store.close()
    assert errors == ["NodeNotReadyError: No node_id provided"]
