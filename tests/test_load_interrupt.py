"""SIGINT to `load --verify` always ends with the summary of what was acknowledged and exit 130.

Reported: one run in five ended with `SystemError: <built-in method poll of cimpl.Producer object>
returned NULL without setting an exception` and no summary — a KeyboardInterrupt raised inside
librdkafka's delivery callback. Ctrl-C is now a stop request the loops check between calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from brokerscale.connect import ConnectionProfile


@pytest.mark.kafka
@pytest.mark.parametrize("presses", [1, 4])
def test_sigint_during_produce_prints_the_summary_and_exits_130(bootstrap: str, presses: int) -> None:
    """One Ctrl-C, and an impatient operator's four in a row: the later ones land while in-flight records
    drain, inside librdkafka's flush and its delivery callbacks — where a KeyboardInterrupt used to become
    the cimpl SystemError (every time, not one run in five) and the summary was lost."""
    for delay in (0.5, 1.3, 2.1):  # different moments of the send loop and its callbacks
        topic = f"load.int.{uuid.uuid4().hex[:6]}"  # a fresh topic: traffic seen is this run's
        proc = subprocess.Popen(
            [sys.executable, "-m", "brokerscale", "load", "-b", bootstrap, "--topic", topic, "--partitions", "3",
             "--max", "--size", "1KB", "--duration", "60s", "--verify", "--format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
        try:
            _wait_for_traffic(bootstrap, topic, minimum=500)
            time.sleep(delay)
            for press in range(presses):
                if press:
                    time.sleep(0.1)
                proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert "SystemError" not in err and "Traceback" not in err, err[-2000:]
        assert proc.returncode == 130, f"exit {proc.returncode}; stdout {out[-300:]!r}; stderr {err[-1500:]!r}"
        doc = json.loads(out)
        assert doc["interrupted"] is True
        assert doc["acked"] > 0 and doc["sent"] >= doc["acked"]
        assert doc["verify"] is None  # an interrupted run is summarised, not verified


def _wait_for_traffic(bootstrap: str, topic: str, minimum: int, timeout: float = 90.0) -> None:
    """Until the run has really produced (the topic's end offsets sum to `minimum`)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:6]}"})
    try:
        deadline = time.time() + timeout
        total = 0
        while time.time() < deadline:
            try:
                meta = c.list_topics(topic, timeout=10).topics.get(topic)
                if meta is not None and meta.error is None and meta.partitions:
                    total = sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                                for p in meta.partitions)
                    if total >= minimum:
                        return
            except KafkaException:  # a slow answer on a busy machine: ask again until the deadline
                pass
            time.sleep(0.3)
        raise AssertionError(f"{topic}: {total} records, fewer than {minimum}, produced in {timeout:.0f} s")
    finally:
        c.close()


def test_verify_stopped_early_is_incomplete_not_lost() -> None:
    from brokerscale.connect import ConnectionProfile
    from brokerscale.load.verify import verify

    acked: dict[tuple[int, int], Any] = {(0, i): 0 for i in range(100)}
    result = verify(ConnectionProfile("127.0.0.1:9"), "t", {0: 0}, acked, timeout_s=5, stop=lambda: True)
    assert result.complete is False and result.lost == 0 and result.read_back == 0


def test_sigint_is_a_stop_request_inside_the_block_and_restored_after() -> None:
    from brokerscale.load.interrupt import sigint_requests_stop

    before = signal.getsignal(signal.SIGINT)
    with sigint_requests_stop() as stop:
        assert not stop()
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt here
        deadline = time.time() + 5
        while not stop() and time.time() < deadline:
            time.sleep(0.01)
        assert stop()
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.time() + 10  # a busy machine can take a while to run the handler
        while time.time() < deadline:
            time.sleep(0.01)


def test_a_final_block_ignores_later_presses_once_stop_was_requested() -> None:
    """`load` exits 130 after its summary; a second Ctrl-C in that window must not kill it by signal."""
    from brokerscale.load.interrupt import sigint_requests_stop

    before = signal.getsignal(signal.SIGINT)
    try:
        with sigint_requests_stop(final=True) as stop:
            pass
        assert not stop() and signal.getsignal(signal.SIGINT) is before  # not asked to stop: restored
        with sigint_requests_stop(final=True) as stop:
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.time() + 5
            while not stop() and time.time() < deadline:
                time.sleep(0.01)
        assert stop() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)  # ignored: no KeyboardInterrupt
        time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, before)


class _MovedLeaderConsumer:
    """A consumer whose first watermark request for each partition meets a leader that just moved."""

    def __init__(self, error: Any) -> None:
        self.error, self.asked = error, []

    def list_topics(self, topic: str, timeout: float) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(topics={topic: SimpleNamespace(partitions={0: None, 1: None})})

    def get_watermark_offsets(self, tp: Any, timeout: float) -> tuple[int, int]:
        from confluent_kafka import KafkaException

        self.asked.append(tp.partition)
        if self.asked.count(tp.partition) == 1:
            raise KafkaException(self.error)
        return 0, 100 + tp.partition

    def close(self) -> None:
        pass


def test_end_offsets_asks_again_when_the_leader_moved(monkeypatch: pytest.MonkeyPatch) -> None:
    # CI: `load --verify` started right after a broker was added failed with "Not leader for partition"
    from confluent_kafka import KafkaError

    from brokerscale.load import verify as verify_mod

    fake = _MovedLeaderConsumer(KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION))
    monkeypatch.setattr(verify_mod, "_consumer", lambda _profile: fake)
    assert verify_mod.end_offsets(ConnectionProfile("127.0.0.1:9"), "t", timeout_s=10) == {0: 100, 1: 101}
    assert fake.asked == [0, 0, 1, 1]


def test_end_offsets_does_not_retry_an_error_asking_again_cannot_cure(monkeypatch: pytest.MonkeyPatch) -> None:
    from confluent_kafka import KafkaError, KafkaException

    from brokerscale.load import verify as verify_mod

    fake = _MovedLeaderConsumer(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    monkeypatch.setattr(verify_mod, "_consumer", lambda _profile: fake)
    with pytest.raises(KafkaException, match="TOPIC_AUTHORIZATION_FAILED"):
        verify_mod.end_offsets(ConnectionProfile("127.0.0.1:9"), "t", timeout_s=10)
    assert fake.asked == [0]
