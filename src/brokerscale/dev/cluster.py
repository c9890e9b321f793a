"""A local Apache Kafka cluster in KRaft mode: one controller and N brokers, each its own JVM on
127.0.0.1 with its own port, log directory, `broker.rack` and JMX exporter port.

Everything about a cluster lives in one directory (`<data dir>/clusters/<name>/`): `state.json`
(ports, racks, pids), each node's `server.properties`, data and logs. That is what lets `dev status`,
`dev stop-broker` and friends work from later invocations, and two clusters with different names run
side by side.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from brokerscale.dev.jars import Runtime, fetch
from brokerscale.errors import BadInput, OperationFailed
from brokerscale.paths import data_dir

CONTROLLER_ID = 100
BROKER_HEAP = os.environ.get("BROKERSCALE_DEV_BROKER_HEAP", "384m")
CONTROLLER_HEAP = "192m"
JVM_OPTS = ["-XX:+UseSerialGC", "-Xss512k", "-XX:ReservedCodeCacheSize=96m", "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true", "-Dsun.net.inetaddr.ttl=60"]
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")

LOG4J2 = """status = error
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.zk.name = org.apache.kafka.clients
logger.zk.level = WARN
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kafka_uuid() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _pid_alive(pid: int | None, marker: str) -> bool:
    """True if `pid` runs and is ours (its command line mentions `marker`: guards against pid reuse)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, PermissionError, FileNotFoundError):
        return False
    if ") Z " in stat:  # a zombie: dead, waiting to be reaped
        return False
    return marker in cmdline


def _pids_mentioning(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "java" in cmdline:
            found.append(int(proc.name))
    return found


@dataclass
class Node:
    """One JVM of the cluster: the controller (role 'controller') or a broker."""

    id: int
    role: str
    port: int
    metrics_port: int
    rack: str | None = None
    pid: int | None = None

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class BrokerInfo:
    id: int
    port: int
    rack: str | None
    metrics_port: int
    alive: bool
    pid: int | None


@dataclass
class DevCluster:
    name: str
    root: Path
    cluster_id: str
    controller: Node
    nodes: dict[int, Node] = field(default_factory=dict)

    # ----- discovery -------------------------------------------------------------------------
    @staticmethod
    def clusters_dir() -> Path:
        return data_dir() / "clusters"

    @classmethod
    def find(cls, name: str) -> DevCluster | None:
        """The cluster called `name` if its state directory exists (running or not)."""
        state = cls.clusters_dir() / name / "state.json"
        if not state.exists():
            return None
        doc = json.loads(state.read_text())
        return cls(
            name=doc["name"], root=state.parent, cluster_id=doc["cluster_id"],
            controller=Node(**doc["controller"]),
            nodes={int(n["id"]): Node(**n) for n in doc["brokers"]},
        )

    @classmethod
    def all(cls) -> list[DevCluster]:
        base = cls.clusters_dir()
        if not base.exists():
            return []
        return [c for d in sorted(base.iterdir()) if (c := cls.find(d.name)) is not None]

    def save(self) -> None:
        doc = {"name": self.name, "cluster_id": self.cluster_id, "controller": self.controller.to_json(),
               "brokers": [n.to_json() for n in sorted(self.nodes.values(), key=lambda n: n.id)]}
        tmp = self.root / "state.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.root / "state.json")

    # ----- views -----------------------------------------------------------------------------
    @property
    def marker(self) -> str:
        return str(self.root)

    def node_dir(self, node: Node) -> Path:
        return self.root / (f"broker-{node.id}" if node.role == "broker" else "controller")

    def alive(self, node: Node) -> bool:
        return _pid_alive(node.pid, str(self.node_dir(node)))

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers of the brokers that are running (all of them if none is known alive)."""
        alive = [n for n in sorted(self.nodes.values(), key=lambda n: n.id) if self.alive(n)]
        chosen = alive or sorted(self.nodes.values(), key=lambda n: n.id)
        return ",".join(f"127.0.0.1:{n.port}" for n in chosen)

    @property
    def brokers(self) -> list[BrokerInfo]:
        return [BrokerInfo(n.id, n.port, n.rack, n.metrics_port, self.alive(n), n.pid)
                for n in sorted(self.nodes.values(), key=lambda n: n.id)]

    @property
    def metrics_urls(self) -> dict[int, str]:
        return {n.id: f"http://127.0.0.1:{n.metrics_port}/metrics"
                for n in sorted(self.nodes.values(), key=lambda n: n.id)}

    # ----- lifecycle -------------------------------------------------------------------------
    @classmethod
    def up(cls, name: str = "local", brokers: int = 3, racks: list[str] | None = None,
           on_progress: Callable[[str], None] | None = None, timeout: float = 120.0) -> DevCluster:
        """Start a new cluster (or the stopped nodes of an existing one) and wait for every broker."""
        validate_name(name)
        if brokers < 1 or brokers > 32:
            raise BadInput(f"--brokers: must be between 1 and 32, got {brokers}")
        if racks is not None and (not racks or any(not r.strip() for r in racks)):
            raise BadInput("--racks: give rack names separated by commas, e.g. a,b,c")
        say = on_progress or (lambda _m: None)
        runtime = fetch()
        existing = cls.find(name)
        if existing is not None:
            say(f"cluster {name!r} exists: starting its stopped nodes")
            existing._start_all(runtime, say, timeout)
            return existing
        root = cls.clusters_dir() / name
        root.mkdir(parents=True, exist_ok=True)
        controller = Node(CONTROLLER_ID, "controller", _free_port(), _free_port())
        cluster = cls(name, root, _kafka_uuid(), controller)
        rack_list = racks or ["a", "b", "c"]
        for i in range(1, brokers + 1):
            cluster.nodes[i] = Node(i, "broker", _free_port(), _free_port(), rack_list[(i - 1) % len(rack_list)])
        cluster._write_configs(runtime)
        cluster.save()
        try:
            cluster._start_all(runtime, say, timeout)
        except BaseException:
            cluster.down(keep_data=True)
            raise
        return cluster

    def _replication(self) -> int:
        return min(3, max(1, len(self.nodes)))

    def _write_configs(self, runtime: Runtime) -> None:
        voters = f"{CONTROLLER_ID}@127.0.0.1:{self.controller.port}"
        for node in [self.controller, *self.nodes.values()]:
            self._write_node_config(node, voters)

    def _write_node_config(self, node: Node, voters: str | None = None) -> None:
        voters = voters or f"{CONTROLLER_ID}@127.0.0.1:{self.controller.port}"
        d = self.node_dir(node)
        (d / "data").mkdir(parents=True, exist_ok=True)
        (d / "logs").mkdir(parents=True, exist_ok=True)
        common = {
            "node.id": node.id,
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "log.dirs": d / "data",
        }
        if node.role == "controller":
            props: dict[str, object] = {
                **common, "process.roles": "controller",
                "listeners": f"CONTROLLER://127.0.0.1:{node.port}",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
            }
        else:
            rf = self._replication()
            props = {
                **common, "process.roles": "broker",
                "listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
                "broker.rack": node.rack or "a",
                "num.partitions": 3,
                "default.replication.factor": rf,
                "min.insync.replicas": min(2, rf),
                "offsets.topic.replication.factor": rf,
                "offsets.topic.num.partitions": 12,
                "transaction.state.log.replication.factor": rf,
                "transaction.state.log.min.isr": min(2, rf),
                "share.coordinator.state.topic.replication.factor": rf,
                "share.coordinator.state.topic.min.isr": min(2, rf),
                "auto.create.topics.enable": "false",
                "group.initial.rebalance.delay.ms": 0,
                "num.network.threads": 2,
                "num.io.threads": 4,
                "background.threads": 4,
                "num.replica.fetchers": 1,
                "replica.lag.time.max.ms": 10000,
                "broker.session.timeout.ms": 6000,
                "broker.heartbeat.interval.ms": 1000,
                "log.segment.bytes": 32 * 1024 * 1024,
                "log.retention.check.interval.ms": 60000,
            }
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        (d / "server.properties").write_text(text)
        (d / "log4j2.properties").write_text(LOG4J2)

    def _format_cmd(self, node: Node, runtime: Runtime) -> list[str]:
        d = self.node_dir(node)
        return ["java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}", f"-Dkafka.logs.dir={d / 'logs'}",
                "-cp", runtime.classpath, "kafka.tools.StorageTool", "format", "-t", self.cluster_id,
                "-c", str(d / "server.properties"), "--ignore-formatted"]

    def _format(self, nodes: list[Node], runtime: Runtime) -> None:
        """Format the storage of `nodes` (KRaft needs it before the first start), in parallel."""
        todo = [n for n in nodes if not (self.node_dir(n) / "data" / "meta.properties").exists()]
        procs = [(n, subprocess.Popen(self._format_cmd(n, runtime), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)) for n in todo]
        for n, proc in procs:
            out, _ = proc.communicate(timeout=180)
            if proc.returncode != 0:
                last = out.strip().splitlines()[-1:] or ["no output"]
                raise OperationFailed(f"formatting node {n.id} failed: {last[0]}")

    def _launch(self, node: Node, runtime: Runtime) -> None:
        d = self.node_dir(node)
        heap = CONTROLLER_HEAP if node.role == "controller" else BROKER_HEAP
        agent: list[str] = []
        if runtime.jmx_agent is not None:
            rules = resources.files("brokerscale") / "data" / "jmx-exporter-kafka.yaml"
            agent = [f"-javaagent:{runtime.jmx_agent}=127.0.0.1:{node.metrics_port}:{rules}"]
        cmd = ["java", f"-Xms{min(128, int(heap[:-1]))}m", f"-Xmx{heap}", *JVM_OPTS, *agent,
               f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}", f"-Dkafka.logs.dir={d / 'logs'}",
               f"-Dbrokerscale.node={d}",
               "-cp", runtime.classpath, "kafka.Kafka", str(d / "server.properties")]
        with open(d / "logs" / "stdout.log", "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=d)
        node.pid = proc.pid
        self.save()

    def _start_all(self, runtime: Runtime, say: Callable[[str], None], timeout: float) -> None:
        to_format = [n for n in [self.controller, *self.nodes.values()]
                     if not (self.node_dir(n) / "data" / "meta.properties").exists()]
        if to_format:
            say(f"formatting {len(to_format)} storage director{'y' if len(to_format) == 1 else 'ies'} (KRaft)")
            self._format(to_format, runtime)
        if not self.alive(self.controller):
            say(f"starting controller {self.controller.id} on 127.0.0.1:{self.controller.port}")
            self._launch(self.controller, runtime)
        for n in sorted(self.nodes.values(), key=lambda n: n.id):
            if not self.alive(n):
                say(f"starting broker {n.id} (rack {n.rack}) on 127.0.0.1:{n.port}")
                self._launch(n, runtime)
        self.wait_registered(sorted(self.nodes), timeout=timeout, say=say)

    def wait_registered(self, ids: list[int], timeout: float = 120.0,
                        say: Callable[[str], None] | None = None) -> None:
        """Block until every broker in `ids` is registered with the controller and serving."""
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        last_seen: set[int] = set()
        while time.monotonic() < deadline:
            for n in [self.controller, *(self.nodes[i] for i in ids)]:
                if not self.alive(n):
                    tail = self._log_tail(n)
                    raise OperationFailed(f"node {n.id} exited during start-up: {tail}")
            if all(_port_open(self.nodes[i].port) for i in ids):
                try:
                    conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 2000,
                                            "log_level": 0, "logger": _silent_logger()}
                    admin = AdminClient(conf)
                    md = admin.list_topics(timeout=3)
                    last_seen = set(md.brokers)
                    if set(ids) <= last_seen:
                        return
                except Exception:
                    pass
            if say:
                say(f"waiting for brokers {sorted(set(ids) - last_seen)} to register")
            time.sleep(0.5)
        raise OperationFailed(f"brokers {sorted(set(ids) - last_seen)} did not register within {timeout:.0f}s "
                              f"(logs: {self.root}/broker-*/logs/server.log)")

    def _log_tail(self, node: Node) -> str:
        for f in (self.node_dir(node) / "logs" / "stdout.log", self.node_dir(node) / "logs" / "server.log"):
            if f.exists():
                lines = [ln for ln in f.read_text(errors="replace").splitlines() if ln.strip()]
                errors = [ln for ln in lines if "ERROR" in ln or "Exception" in ln]
                if errors or lines:
                    return (errors or lines)[-1][:300]
        return f"see {self.node_dir(node) / 'logs'}"

    def _stop_node(self, node: Node, kill: bool, timeout: float = 60.0) -> None:
        if not self.alive(node):
            node.pid = None
            return
        assert node.pid is not None
        os.kill(node.pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive(node) and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.alive(node):
            os.kill(node.pid, signal.SIGKILL)
            while self.alive(node):
                time.sleep(0.1)
        node.pid = None
        self.save()

    def _broker(self, broker_id: int) -> Node:
        if broker_id not in self.nodes:
            raise BadInput(f"broker {broker_id}: no such broker in cluster {self.name!r} "
                           f"(brokers: {', '.join(map(str, sorted(self.nodes)))})")
        return self.nodes[broker_id]

    def stop_broker(self, broker_id: int, kill: bool = False) -> None:
        """Stop one broker: a controlled shutdown (SIGTERM), or `kill` for a crash (SIGKILL)."""
        self._stop_node(self._broker(broker_id), kill)

    def start_broker(self, broker_id: int, timeout: float = 120.0) -> None:
        node = self._broker(broker_id)
        runtime = fetch(quiet=True)
        if not self.alive(self.controller):
            self._launch(self.controller, runtime)
        if not self.alive(node):
            self._launch(node, runtime)
        self.wait_registered([broker_id], timeout=timeout)

    def add_broker(self, rack: str | None = None, timeout: float = 120.0) -> int:
        """Start one more broker (next free id; rack round-robin over the existing racks)."""
        runtime = fetch(quiet=True)
        new_id = max(self.nodes) + 1 if self.nodes else 1
        if rack is None:
            racks = sorted({n.rack or "a" for n in self.nodes.values()})
            counts = {r: sum(1 for n in self.nodes.values() if n.rack == r) for r in racks}
            rack = min(racks, key=lambda r: (counts[r], r)) if racks else "a"
        node = Node(new_id, "broker", _free_port(), _free_port(), rack)
        self.nodes[new_id] = node
        self._write_node_config(node)
        self.save()
        self._format([node], runtime)
        self._launch(node, runtime)
        self.wait_registered([new_id], timeout=timeout)
        return new_id

    def remove_broker(self, broker_id: int) -> None:
        """Take a broker out for good: refuse while it holds replicas, else stop and unregister it."""
        from confluent_kafka.admin import AdminClient

        node = self._broker(broker_id)
        if self.alive(node):
            conf: dict[str, Any] = {"bootstrap.servers": self.bootstrap, "log_level": 0, "logger": _silent_logger()}
            admin = AdminClient(conf)
            md = admin.list_topics(timeout=10)
            held = [f"{t}-{p}" for t, tm in md.topics.items() for p, pm in tm.partitions.items()
                    if broker_id in pm.replicas]
            if held:
                raise BadInput(f"broker {broker_id} still holds {len(held)} replicas (e.g. {held[0]}): drain it first "
                               f"with `brokerscale rebalance propose --mode remove-brokers --brokers {broker_id}`")
        self._stop_node(node, kill=False)
        from brokerscale.dev.tools import run_tool

        res = run_tool("kafka-cluster", ["unregister", "--bootstrap-server", self.bootstrap, "--id", str(broker_id)],
                       timeout=60)
        if res.returncode != 0 and "not found" not in (res.stdout + res.stderr).lower():
            last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
            raise OperationFailed(f"unregistering broker {broker_id} failed: {last[0]}")
        del self.nodes[broker_id]
        shutil.rmtree(self.node_dir(node), ignore_errors=True)
        self.save()

    def down(self, keep_data: bool = False) -> None:
        """Stop every node (brokers first, then the controller); delete the directory unless keep_data."""
        for n in sorted(self.nodes.values(), key=lambda n: n.id):
            if self.alive(n):
                assert n.pid is not None
                os.kill(n.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(self.alive(n) for n in self.nodes.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for n in self.nodes.values():
            self._stop_node(n, kill=True)
        self._stop_node(self.controller, kill=False, timeout=15)
        for pid in _pids_mentioning(self.marker):  # anything else of ours still running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if keep_data:
            self.save()
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def validate_name(name: str) -> None:
    if not name or not set(name) <= NAME_CHARS or len(name) > 40:
        raise BadInput(f"--name: {name!r} must be 1-40 characters of a-z, 0-9, '-' or '_'")


def _silent_logger() -> object:
    import logging

    logger = logging.getLogger("brokerscale.dev.probe")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
