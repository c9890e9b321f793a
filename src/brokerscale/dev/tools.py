"""Apache Kafka's own command-line tools, run from the jars: the baselines brokerscale is measured
against (kafka-reassign-partitions, kafka-consumer-groups, kafka-producer-perf-test, ...)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from brokerscale.dev.jars import fetch
from brokerscale.errors import BadInput

TOOLS = {
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-cluster": "org.apache.kafka.tools.ClusterTool",
    "kafka-storage": "kafka.tools.StorageTool",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-dump-log": "kafka.tools.DumpLogSegments",
}

JAVA_TOOL_OPTS = ["-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"]


def tool_command(name: str, args: Sequence[str]) -> list[str]:
    if name not in TOOLS:
        raise BadInput(f"unknown Kafka tool {name!r} (known: {', '.join(sorted(TOOLS))})")
    runtime = fetch(quiet=True)
    return ["java", *JAVA_TOOL_OPTS, "-Dlog4j2.level=WARN", "-cp", runtime.classpath, TOOLS[name], *args]


def run_tool(name: str, args: Sequence[str], *, timeout: float = 120.0, check: bool = False,
             stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of Kafka's tools to completion and capture its output (`stdin`: text fed to it)."""
    return subprocess.run(tool_command(name, args), capture_output=True, text=True, timeout=timeout, check=check,
                          input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL)
