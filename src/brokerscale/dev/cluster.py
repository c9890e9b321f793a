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
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from brokerscale.dev.jars import Runtime, fetch
from brokerscale.dev.log4j import rolling_file_config
from brokerscale.dev.ports import PortAllocator, PortSource, is_bind_error, quiet_port
from brokerscale.dev.security import ADMIN, PROTOCOLS, READER, Security, _write_private, grant_read_only
from brokerscale.errors import BadInput, OperationFailed
from brokerscale.paths import data_dir

CONTROLLER_ID = 100
BROKER_HEAP = os.environ.get("BROKERSCALE_DEV_BROKER_HEAP", "384m")
CONTROLLER_HEAP = "192m"
JVM_OPTS = ["-XX:+UseSerialGC", "-Xss512k", "-XX:ReservedCodeCacheSize=96m", "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true", "-Dsun.net.inetaddr.ttl=60"]
START_TIMEOUT = 300.0
"""Seconds a start may take before it counts as failed (a busy 2-core machine needs 90 s for 3 brokers)."""
START_ATTEMPTS = 4
"""Starts of a cluster (or broker) that may be lost to port races before `dev up` gives up."""
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")

LOG4J2 = rolling_file_config("${sys:kafka.logs.dir}/server.log", {
    "request": "kafka.request.logger", "statechange": "state.change.logger", "zk": "org.apache.kafka.clients"})


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _kafka_uuid() -> str:
    """A Kafka cluster id (base64url of 16 random bytes) that does not start with '-'.

    One id in 64 would: `kafka-storage format -t -xyz` then reads the id as an option and fails with
    "argument --cluster-id/-t: expected one argument" (Kafka's own Uuid.randomUuid avoids them too).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


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
    started: bool = True
    security: Security = field(default_factory=Security)
    """False until the first start of a new cluster has succeeded: a state left by a start that
    was killed outright is then recognised as such and cleaned up by the next `dev up`."""
    _log_offsets: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)
    _procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

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
        try:
            doc = json.loads(state.read_text())
            return cls(
                name=doc["name"], root=state.parent, cluster_id=doc["cluster_id"],
                controller=Node(**doc["controller"]),
                nodes={int(n["id"]): Node(**n) for n in doc["brokers"]},
                started=bool(doc.get("started", True)),
                security=Security(str((doc.get("security") or {}).get("protocol", "plaintext")),
                                  bool((doc.get("security") or {}).get("acls", False)), state.parent / "security"),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None  # being written, or left half-written by a killed start: not a usable cluster

    @classmethod
    def all(cls) -> list[DevCluster]:
        base = cls.clusters_dir()
        if not base.exists():
            return []
        return [c for d in sorted(base.iterdir()) if (c := cls.find(d.name)) is not None]

    def save(self) -> None:
        doc = {"name": self.name, "cluster_id": self.cluster_id, "started": self.started,
               "security": self.security.to_json(),
               "controller": self.controller.to_json(),
               "brokers": [n.to_json() for n in sorted(self.nodes.values(), key=lambda n: n.id)]}
        tmp = self.root / "state.json.tmp"
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.root / "state.json")

    # ----- views -----------------------------------------------------------------------------
    @property
    def marker(self) -> str:
        """What every process of this cluster (and no other cluster's) has in its command line."""
        return f"{self.root}/"

    def node_dir(self, node: Node) -> Path:
        return self.root / (f"broker-{node.id}" if node.role == "broker" else "controller")

    def alive(self, node: Node) -> bool:
        return _pid_alive(node.pid, f"{self.node_dir(node)}/")

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers of the brokers that are running (all of them if none is known alive)."""
        alive = [n for n in sorted(self.nodes.values(), key=lambda n: n.id) if self.alive(n)]
        chosen = alive or sorted(self.nodes.values(), key=lambda n: n.id)
        return ",".join(f"127.0.0.1:{n.port}" for n in chosen)

    def client_properties(self, principal: str = ADMIN) -> dict[str, str]:
        """Client properties of `principal` (empty for a plaintext cluster)."""
        if not self.security.secured:
            return {}
        from brokerscale.connect import read_properties

        return read_properties(self.security.properties_file(principal))

    def client_conf(self, principal: str = ADMIN) -> dict[str, Any]:
        """librdkafka configuration to reach this cluster as `principal`."""
        from brokerscale.connect import ConnectionProfile

        return ConnectionProfile(self.bootstrap, self.client_properties(principal)).confluent()

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
    def up(cls, name: str = "local", brokers: int | None = None, racks: list[str] | None = None,
           on_progress: Callable[[str], None] | None = None, timeout: float = START_TIMEOUT, *,
           keep_data: bool = False, attempts: int | None = None,
           port_source: Callable[[], PortSource] | None = None,
           security: str | None = None, acls: bool | None = None) -> DevCluster:
        """Start a new cluster, or resume the existing cluster of that name exactly as it was.

        A start that loses a port race is retried with fresh ports up to `attempts` times. When a
        new cluster cannot be started (or the start is interrupted), every process it started is
        stopped and its directory removed (unless `keep_data`), so the same call can simply be run
        again. `port_source` makes a port source per attempt (tests inject collisions with it).
        """
        validate_name(name)
        if brokers is not None and not 1 <= brokers <= 32:
            raise BadInput(f"--brokers: must be between 1 and 32, got {brokers}")
        if racks is not None and (not racks or any(not r.strip() for r in racks)):
            raise BadInput("--racks: give rack names separated by commas, e.g. a,b,c")
        if security is not None and security not in PROTOCOLS:
            raise BadInput(f"--security: {security!r} is not one of {', '.join(PROTOCOLS)}")
        if acls and security in (None, "plaintext"):
            raise BadInput("--acls: needs --security sasl_ssl or mtls (ACLs need authenticated principals)")
        say = on_progress or (lambda _m: None)
        attempts = attempts or START_ATTEMPTS
        runtime = fetch()
        with _name_lock(name):
            existing = cls.find(name)
            if existing is not None and existing.started:
                existing._check_resume_matches(brokers, racks, security, acls)
                n = len(existing.nodes)
                say(f"cluster {name!r} exists: resuming it as it was ({n} broker{'' if n == 1 else 's'}, data kept)")
                existing._resume(runtime, say, timeout, attempts, port_source)
                return existing
            root = cls.clusters_dir() / name
            if existing is not None or root.exists():
                say(f"cluster {name!r}: a previous start did not finish; removing what it left")
                _remove_leftover(root)
            wanted = Security(security or "plaintext", bool(acls), root / "security")
            return cls._create(name, root, brokers or 3, racks, runtime, say, timeout, keep_data, attempts,
                               port_source, wanted)

    @classmethod
    def _create(cls, name: str, root: Path, brokers: int, racks: list[str] | None, runtime: Runtime,
                say: Callable[[str], None], timeout: float, keep_data: bool, attempts: int,
                port_source: Callable[[], PortSource] | None, security: Security) -> DevCluster:
        root.mkdir(parents=True, exist_ok=True)
        cluster = cls(name, root, _kafka_uuid(), Node(CONTROLLER_ID, "controller", 0, 0), started=False,
                      security=security)
        rack_list = racks or ["a", "b", "c"]
        for i in range(1, brokers + 1):
            cluster.nodes[i] = Node(i, "broker", 0, 0, rack_list[(i - 1) % len(rack_list)])
        try:
            cluster._assign_ports([cluster.controller, *cluster.nodes.values()], port_source)
            if security.secured:
                say(f"generating a CA, certificates and client properties ({security.protocol})")
                security.generate()
            cluster._write_configs(runtime)
            cluster.save()
            cluster._start_with_retries(runtime, say, timeout, attempts, port_source)
            if security.acls:
                say(f"granting the read-only principal {READER!r} its ACLs")
                grant_read_only(cluster.client_conf(), READER)
            cluster.started = True
            cluster.save()
        except BaseException:
            with _sigint_deferred():
                cluster.down(keep_data=keep_data)
            raise
        return cluster

    def _check_resume_matches(self, brokers: int | None, racks: list[str] | None, security: str | None,
                              acls: bool | None) -> None:
        """Refuse a `dev up` whose options describe a different cluster than the one of that name."""
        have_racks = [self.nodes[i].rack or "a" for i in sorted(self.nodes)]
        wanted_racks = None if racks is None else [racks[i % len(racks)] for i in range(len(self.nodes))]
        differs = []
        if brokers is not None and brokers != len(self.nodes):
            differs.append(f"--brokers {brokers}, but it has {len(self.nodes)} brokers")
        if wanted_racks is not None and wanted_racks != have_racks:
            differs.append(f"--racks {','.join(racks or [])}, but its racks are {','.join(have_racks)}")
        if security is not None and security != self.security.protocol:
            differs.append(f"--security {security}, but it runs {self.security.protocol}")
        if acls is not None and acls != self.security.acls:
            have = "on" if self.security.acls else "off"
            differs.append(f"--acls {'on' if acls else 'off'}, but its ACLs are {have}")
        if differs:
            raise BadInput(f"--name: dev cluster {self.name!r} already exists and you asked for "
                           f"{'; '.join(differs)}: run `brokerscale dev up --name {self.name}` to resume it "
                           f"as it is, or `brokerscale dev down --name {self.name}` first to start afresh")

    def _resume(self, runtime: Runtime, say: Callable[[str], None], timeout: float, attempts: int,
                port_source: Callable[[], PortSource] | None) -> None:
        before = {n.id for n in [self.controller, *self.nodes.values()] if self.alive(n)}
        try:
            self._start_with_retries(runtime, say, timeout, attempts, port_source)
        except BaseException:
            with _sigint_deferred():  # stop what this call started; the cluster's data stays
                for n in [*self.nodes.values(), self.controller]:
                    if n.id not in before:
                        self._stop_node(n, kill=True)
            raise

    # ----- ports and start-up with retries -------------------------------------------------------
    def _other_clusters_ports(self) -> set[int]:
        ports: set[int] = set()
        for c in DevCluster.all():
            if c.name != self.name:
                for n in [c.controller, *c.nodes.values()]:
                    ports |= {n.port, n.metrics_port}
        return ports

    def _assign_ports(self, nodes: list[Node], port_source: Callable[[], PortSource] | None) -> None:
        """Give `nodes` fresh ports, distinct from each other, from the cluster's other nodes and from
        the other clusters of this data directory."""
        keep = {p for n in [self.controller, *self.nodes.values()] if n not in nodes for p in (n.port, n.metrics_port)}
        take = PortAllocator(port_source() if port_source else quiet_port,
                             avoid=keep | self._other_clusters_ports())
        for n in nodes:
            n.port, n.metrics_port = take(), take()

    def _start_with_retries(self, runtime: Runtime, say: Callable[[str], None], timeout: float, attempts: int,
                            port_source: Callable[[], PortSource] | None, ids: list[int] | None = None) -> None:
        """Start the stopped nodes (or just brokers `ids`); on a lost port race, stop what this
        attempt started, give those nodes fresh ports and try again, `attempts` times in all."""
        for attempt in range(1, attempts + 1):
            launched: list[Node] = []
            try:
                self._start_nodes(runtime, say, timeout, launched, ids)
                return
            except NodeStartFailed as exc:
                if not exc.port_race or attempt == attempts:
                    if exc.port_race:
                        tries = f"{attempts} attempt{'' if attempts == 1 else 's'}"
                        raise OperationFailed(f"{exc} (a port was taken by another process on {tries})") from None
                    raise
                say(f"{exc.node_label} lost a port race (attempt {attempt} of {attempts}); retrying with fresh ports")
                for n in launched:
                    self._stop_node(n, kill=True)
                renew = launched
                if self.controller in launched:  # brokers know the controller by its port: restart all
                    for n in self.nodes.values():
                        self._stop_node(n, kill=True)
                    renew, ids = [self.controller, *self.nodes.values()], None
                self._assign_ports(renew, port_source)
                self._write_configs(runtime)
                self.save()

    def _start_nodes(self, runtime: Runtime, say: Callable[[str], None], timeout: float, launched: list[Node],
                     ids: list[int] | None) -> None:
        brokers = [self.nodes[i] for i in sorted(self.nodes) if ids is None or i in ids]
        to_format = [n for n in [self.controller, *brokers]
                     if not (self.node_dir(n) / "data" / "meta.properties").exists()]
        if to_format:
            say(f"formatting {len(to_format)} storage director{'y' if len(to_format) == 1 else 'ies'} (KRaft)")
            self._format(to_format, runtime)
        if not self.alive(self.controller):
            say(f"starting controller {self.controller.id} on 127.0.0.1:{self.controller.port}")
            self._launch(self.controller, runtime)
            launched.append(self.controller)
        for n in brokers:
            if not self.alive(n):
                say(f"starting broker {n.id} (rack {n.rack}) on 127.0.0.1:{n.port}")
                self._launch(n, runtime)
                launched.append(n)
        self.wait_registered([n.id for n in brokers], timeout=timeout, say=say)

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
        rf = self._replication()
        # A new topic's defaults, on the controller as well. In KRaft the controller fills in the partition
        # count and replication factor of a CreateTopics that leaves them out (Kafka's own kafka-topics
        # without --replication-factor): without them here such topics got RF 1 even on 3 brokers. And with
        # Eligible Leader Replicas (on by default for new Kafka 4.1 clusters) the controller writes a
        # cluster-wide min.insync.replicas from its own static config, which overrides the brokers' static
        # 2: every topic ended up at min.insync.replicas 1 and was flagged by the PHI policy.
        # With 3 brokers this is the PHI policy's baseline: RF 3, min.insync.replicas 2, no unclean election.
        topic_defaults: dict[str, object] = {
            "num.partitions": 3,
            "default.replication.factor": rf,
            "min.insync.replicas": min(2, rf),
            "unclean.leader.election.enable": "false",
        }
        if node.role == "controller":
            props: dict[str, object] = {
                **common, "process.roles": "controller",
                "listeners": f"CONTROLLER://127.0.0.1:{node.port}",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
                **topic_defaults,
            }
        else:
            props = {
                **common, "process.roles": "broker",
                "listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
                "broker.rack": node.rack or "a",
                **topic_defaults,
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
        if node.role == "controller":
            props |= self.security.controller_properties(node.port)
        else:
            props |= self.security.broker_properties(node.port)
        text = "".join(f"{k}={v}\n" for k, v in props.items())
        _write_private(d / "server.properties", text)  # holds the inter-broker password when secured
        (d / "log4j2.properties").write_text(LOG4J2)

    def _format_cmd(self, node: Node, runtime: Runtime) -> list[str]:
        """The storage format command. Its arguments (SCRAM passwords among them) are in a 0600 Java
        argument file, so no secret is ever in a process's command line."""
        d = self.node_dir(node)
        args = ["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile={d / 'log4j2.properties'}", f"-Dkafka.logs.dir={d / 'logs'}",
                "-cp", runtime.classpath, "kafka.tools.StorageTool", "format", "-t", self.cluster_id,
                "-c", str(d / "server.properties"), "--ignore-formatted", *self.security.format_args()]
        argfile = d / "format.args"
        _write_private(argfile, "".join(f'"{a}"\n' for a in args))
        return ["java", f"@{argfile}"]

    def _format(self, nodes: list[Node], runtime: Runtime) -> None:
        """Format the storage of `nodes` (KRaft needs it before the first start), in parallel."""
        todo = [n for n in nodes if not (self.node_dir(n) / "data" / "meta.properties").exists()]
        procs = [(n, subprocess.Popen(self._format_cmd(n, runtime), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)) for n in todo]
        for n, proc in procs:
            out, _ = proc.communicate(timeout=600)
            (self.node_dir(n) / "format.args").unlink(missing_ok=True)
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
        self._log_offsets[node.id] = {f.name: f.stat().st_size for f in self._log_files(node) if f.exists()}
        with open(d / "logs" / "stdout.log", "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=d)
        node.pid = proc.pid
        self._procs[node.id] = proc
        self.save()

    def wait_registered(self, ids: list[int], timeout: float = 120.0,
                        say: Callable[[str], None] | None = None) -> None:
        """Block until every broker in `ids` is registered with this cluster's controller and serving.

        Raises NodeStartFailed as soon as a node's process exits, quoting its log.
        """
        from confluent_kafka.admin import AdminClient

        deadline = time.monotonic() + timeout
        last_seen: set[int] = set()
        serving: set[int] = set()
        while time.monotonic() < deadline:
            self._raise_if_a_node_failed([self.controller, *(self.nodes[i] for i in ids)])
            serving |= {i for i in ids if i not in serving and self._serves_own_port(self.nodes[i])}
            if serving >= set(ids):
                try:
                    conf: dict[str, Any] = {**self.client_conf(), "socket.timeout.ms": 2000,
                                            "log_level": 0, "logger": _silent_logger()}
                    md = AdminClient(conf).list_topics(timeout=3)
                    if md.cluster_id == self.cluster_id:  # not another cluster that took our ports
                        last_seen = set(md.brokers)
                        if set(ids) <= last_seen:
                            return
                except Exception:  # not serving yet: the loop tries again
                    pass
            if say:
                say(f"waiting for brokers {sorted(set(ids) - last_seen)} to register")
            time.sleep(0.5)
        missing = sorted(set(ids) - last_seen)
        raise self._start_failure(self.nodes[missing[0]] if missing else self.controller,
                                  f"did not register within {timeout:.0f}s")

    def _serves_own_port(self, node: Node) -> bool:
        """Whether this cluster's Kafka answers on `node`'s own port. An open port is not enough, nor is the
        broker being listed in the cluster's metadata: a broker registers (and on a busy machine can be
        unfenced) before it binds its listener, so a broker that lost its port to another process was
        once listed while that process's socket answered the port check (CI: an add-broker that lost a
        port race was taken as started)."""
        from confluent_kafka.admin import AdminClient

        if not _port_open(node.port):
            return False
        conf: dict[str, Any] = {**self.client_conf(), "bootstrap.servers": f"127.0.0.1:{node.port}",
                                "socket.timeout.ms": 2000, "log_level": 0, "logger": _silent_logger()}
        try:  # a fresh client knows only this address, so the answer comes from whatever listens there
            return bool(AdminClient(conf).list_topics(timeout=3).cluster_id == self.cluster_id)
        except Exception:  # not serving yet (or not Kafka): the caller asks again
            return False

    def _raise_if_a_node_failed(self, nodes: list[Node]) -> None:
        """Raise for the node that explains a failed start best: one that lost a port (even if it is
        still shutting down: a busy machine takes half a minute to exit), else the controller (brokers
        give up when it is gone), else any node that exited."""
        dead = [n for n in nodes if not self.alive(n) and not self._child_running(n)]
        raced = [n for n in nodes if n.id in self._log_offsets
                 and any(is_bind_error("\n".join(lines)) for _, lines in self._log_since_launch(n))]
        candidates = raced or [n for n in dead if n.role == "controller"] or dead
        if candidates:
            culprit = candidates[0]
            raise self._start_failure(culprit, "exited during start-up" if culprit in dead
                                      else "could not bind its port")

    def _child_running(self, node: Node) -> bool:
        """A node this process launched and has not reaped is running, whatever /proc says of it: the
        command-line check behind `alive` can miss a JVM that is busy starting on a loaded machine, and a
        start must not be declared failed ("exited during start-up", with no exit code) while it runs."""
        proc = self._procs.get(node.id)
        return proc is not None and proc.pid == node.pid and proc.poll() is None

    def _log_files(self, node: Node) -> list[Path]:
        logs = self.node_dir(node) / "logs"
        return [logs / "stdout.log", logs / "server.log"]

    def _log_since_launch(self, node: Node) -> list[tuple[Path, list[str]]]:
        """The lines each log of `node` gained since it was last launched by this process."""
        out = []
        offsets = self._log_offsets.get(node.id, {})
        for f in self._log_files(node):
            if f.exists():
                with open(f, "rb") as fh:
                    fh.seek(offsets.get(f.name, 0) if f.stat().st_size >= offsets.get(f.name, 0) else 0)
                    text = fh.read().decode(errors="replace")
                out.append((f, [ln.rstrip() for ln in text.splitlines() if ln.strip()]))
        return out

    def _start_failure(self, node: Node, what: str) -> NodeStartFailed:
        label = f"{node.role} {node.id}"
        proc = self._procs.get(node.id)
        code = proc.poll() if proc is not None else None
        if code is not None:
            what += f" with exit code {code}"
        logs = self._log_since_launch(node)
        race = any(is_bind_error("\n".join(lines)) for _, lines in logs)
        quote = _quote_log(logs)
        where = f"last lines of {quote[0]}: {quote[1]}" if quote else f"no log output in {self.node_dir(node) / 'logs'}"
        ports = f"ports {node.port} and {node.metrics_port}"
        return NodeStartFailed(f"{label} of dev cluster {self.name!r} {what} ({ports}); {where}",
                               node_label=label, port_race=race)

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

    def start_broker(self, broker_id: int, timeout: float = START_TIMEOUT) -> None:
        """Start a stopped broker again (and the controller, if it is stopped too)."""
        self._broker(broker_id)
        self._start_with_retries(fetch(quiet=True), lambda _m: None, timeout, START_ATTEMPTS, None, ids=[broker_id])

    def add_broker(self, rack: str | None = None, timeout: float = START_TIMEOUT, *, attempts: int | None = None,
                   port_source: Callable[[], PortSource] | None = None) -> int:
        """Start one more broker (next free id; rack round-robin over the existing racks).

        Same rules as `up`: distinct ports, retried on a lost port race; if it cannot start, the new
        broker's process, directory and entry in the state are removed again.
        """
        runtime = fetch(quiet=True)
        attempts = attempts or START_ATTEMPTS
        with _name_lock(self.name):
            new_id = max(self.nodes) + 1 if self.nodes else 1
            if rack is None:
                racks = sorted({n.rack or "a" for n in self.nodes.values()})
                counts = {r: sum(1 for n in self.nodes.values() if n.rack == r) for r in racks}
                rack = min(racks, key=lambda r: (counts[r], r)) if racks else "a"
            node = Node(new_id, "broker", 0, 0, rack)
            self.nodes[new_id] = node
            try:
                self._assign_ports([node], port_source)
                self._write_node_config(node)
                self.save()
                self._start_with_retries(runtime, lambda _m: None, timeout, attempts, port_source, ids=[new_id])
            except BaseException:
                with _sigint_deferred():
                    self._stop_node(node, kill=True)
                    # A broker registers with the controller before it binds its listener: one that lost
                    # its port stayed listed, fenced, in the cluster's metadata. Best effort: the start's
                    # own error is what the caller must see.
                    with contextlib.suppress(Exception):
                        self._unregister(new_id)
                    del self.nodes[new_id]
                    shutil.rmtree(self.node_dir(node), ignore_errors=True)
                    self.save()
                raise
        _prometheus_targets(self)
        return new_id

    def _unregister(self, broker_id: int) -> None:
        """Drop a stopped broker's registration from the controller (Kafka keeps it, fenced, otherwise)."""
        from brokerscale.dev.tools import run_tool

        secured = ["--config", str(self.security.properties_file(ADMIN))] if self.security.secured else []
        res = run_tool("kafka-cluster", ["unregister", "--bootstrap-server", self.bootstrap, "--id", str(broker_id),
                                         *secured],
                       timeout=60)
        if res.returncode != 0 and "not found" not in (res.stdout + res.stderr).lower():
            last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
            raise OperationFailed(f"unregistering broker {broker_id} failed: {last[0]}")

    def remove_broker(self, broker_id: int) -> None:
        """Take a broker out for good: refuse while it holds replicas, else stop and unregister it."""
        from confluent_kafka.admin import AdminClient

        node = self._broker(broker_id)
        if self.alive(node):
            conf: dict[str, Any] = {**self.client_conf(), "log_level": 0, "logger": _silent_logger()}
            admin = AdminClient(conf)
            md = admin.list_topics(timeout=30)  # a busy but live cluster answers late
            held = [f"{t}-{p}" for t, tm in md.topics.items() for p, pm in tm.partitions.items()
                    if broker_id in pm.replicas]
            if held:
                raise BadInput(f"broker {broker_id} still holds {len(held)} replicas (e.g. {held[0]}): drain it first "
                               f"with `brokerscale rebalance propose --mode remove-brokers --brokers {broker_id}`")
        self._stop_node(node, kill=False)
        self._unregister(broker_id)
        del self.nodes[broker_id]
        shutil.rmtree(self.node_dir(node), ignore_errors=True)
        self.save()
        _prometheus_targets(self)

    def down(self, keep_data: bool = False) -> None:
        """Stop every node (brokers first, then the controller); delete the directory unless keep_data."""
        from brokerscale.dev import prometheus

        prometheus.stop(self)
        for n in sorted(self.nodes.values(), key=lambda n: n.id):
            if self.alive(n):
                assert n.pid is not None
                with contextlib.suppress(ProcessLookupError):
                    os.kill(n.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(self.alive(n) for n in self.nodes.values()) and time.monotonic() < deadline:
            time.sleep(0.2)
        for n in self.nodes.values():
            self._stop_node(n, kill=True)
        self._stop_node(self.controller, kill=False, timeout=15)
        _kill_all_mentioning(self.marker)  # anything else of ours still running (a format, a lost pid)
        if keep_data:
            self.save()
        else:
            shutil.rmtree(self.root, ignore_errors=True)


class NodeStartFailed(OperationFailed):
    """A node of a dev cluster did not come up; `port_race` when its log shows a port bind error."""

    def __init__(self, message: str, *, node_label: str, port_race: bool) -> None:
        super().__init__(message)
        self.node_label = node_label
        self.port_race = port_race


def _quote_log(logs: list[tuple[Path, list[str]]], lines: int = 3) -> tuple[Path, str] | None:
    """The most telling last lines of a node's logs (errors first), as one line for the message."""
    best: tuple[Path, list[str]] | None = None
    for f, text in logs:
        errors = [ln for ln in text if any(k in ln for k in ("ERROR", "FATAL", "Exception", "Error:"))]
        if errors and (best is None or not best[1] or best[0].name == "stdout.log"):
            best = (f, errors)
        elif best is None and text:
            best = (f, text)
    if best is None or not best[1]:
        return None
    return best[0], " | ".join(ln.strip()[:240] for ln in best[1][-lines:])


def _kill_all_mentioning(marker: str) -> None:
    for pid in _pids_mentioning(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _pids_mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.1)


def _remove_leftover(root: Path) -> None:
    """Remove what a start that was killed outright left behind: its processes, then its directory."""
    _kill_all_mentioning(f"{root}/")
    shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _name_lock(name: str) -> Iterator[None]:
    """One `dev up`/`add-broker` per cluster name at a time (across processes): a second one is refused."""
    locks = DevCluster.clusters_dir() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{name}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInput(f"--name: another brokerscale command is starting dev cluster {name!r} right now; "
                           "wait for it to finish (`brokerscale dev status --name "
                           f"{name}`)") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Let cleanup finish even if Ctrl-C is pressed again; the interrupt is delivered afterwards."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pending and callable(previous):
            previous(signal.SIGINT, None)


def _prometheus_targets(cluster: DevCluster) -> None:
    """Keep the dev Prometheus (if one runs) scraping exactly the cluster's brokers."""
    from brokerscale.dev import prometheus

    prometheus.write_broker_targets(cluster)


def validate_name(name: str) -> None:
    if not name or not set(name) <= NAME_CHARS or len(name) > 40:
        raise BadInput(f"--name: {name!r} must be 1-40 characters of a-z, 0-9, '-' or '_'")


def _silent_logger() -> object:
    import logging

    logger = logging.getLogger("brokerscale.dev.probe")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger
