"""Shared fixtures.

The real-cluster tests (marked `kafka`) share one session-scoped 3-broker local Apache Kafka
cluster, started from the jars by the same code as `brokerscale dev up`. Each test session gets its
own data directory, so the store and cluster state of a test run never touch the user's.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="brokerscale-test-"))
atexit.register(shutil.rmtree, _SESSION_DIR, True)
os.environ["BROKERSCALE_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ.pop("BROKERSCALE_STORE_URL", None)
os.environ.pop("BROKERSCALE_BOOTSTRAP", None)
# A shell that runs the suite in the background without job control (`.ci/run &`, nohup) starts it with
# Ctrl-C ignored, which the processes the Ctrl-C tests start would inherit: they would never see it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[object]:
    """A running 3-broker dev cluster (racks a, b, c) for the whole test session."""
    from brokerscale.dev.cluster import DevCluster

    cluster = DevCluster.up(f"pytest-{os.getpid()}", brokers=3, racks=["a", "b", "c"])
    try:
        yield cluster
    finally:
        cluster.down()


@pytest.fixture()
def healthy_cluster(kafka_cluster: object) -> object:
    """The session cluster once it is healthy (see cluster_health.wait_healthy): for tests whose verdict
    depends on a quiet cluster, so an earlier test's leftovers cannot decide it."""
    from cluster_health import wait_healthy

    wait_healthy(kafka_cluster)
    return kafka_cluster


@pytest.fixture()
def bootstrap(kafka_cluster: object) -> str:
    return str(kafka_cluster.bootstrap)  # type: ignore[attr-defined]


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `brokerscale ARGS...` in-process; returns (exit_code, stdout, stderr)."""
    from brokerscale.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err

    return run
