"""Load expressed in capacity units: how many CKUs or brokers' worth of each dimension a load uses.

The autoscaler compares a load with N units many thousands of times (every simulated minute, every
oracle state), so it reduces a load once to its *demand* per dimension — load divided by what one
unit carries — and utilization at N units is then `100 * demand / N`. The per-unit figures come from
the same places `observe` reads them: a limits profile (CKUs, or the profile's broker class) or a
broker capacity file. Pure: no I/O here except reading those files through their own loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brokerscale.errors import BadInput
from brokerscale.model.limits import load_limits
from brokerscale.model.snapshot import Snapshot
from brokerscale.observe.rules import load_rules

MB = 1_000_000
DIMENSIONS = ("throughput", "ingress", "egress", "connections", "partitions")


@dataclass(frozen=True)
class UnitCapacity:
    """What ONE unit (a CKU or a broker) carries, per dimension; None = not limited / not known.

    For brokers, `replication_factor` turns client traffic into broker traffic (each produced byte is
    written RF times and sent RF-1 times to followers) and partitions into partition replicas,
    when `counts_replication` is set (a limits profile's broker class counts replication; an observe
    capacity file counts client bytes, as the JMX exporter reports them).
    """

    unit: str
    description: str
    throughput_mb_s: float | None = None
    ingress_mb_s: float | None = None
    egress_mb_s: float | None = None
    connections: float | None = None
    partitions: float | None = None
    replication_factor: int = 1
    counts_replication: bool = False

    def demand(self, ingress_mb_s: float, egress_mb_s: float, connections: float,
               partitions: float) -> dict[str, float]:
        """Units' worth of each limited dimension for this load."""
        rf = self.replication_factor if self.counts_replication else 1
        if self.unit == "broker" and self.counts_replication:
            thr = ingress_mb_s * (2 * rf - 1) + egress_mb_s
            ing, egr = ingress_mb_s * rf, egress_mb_s + ingress_mb_s * (rf - 1)
        else:
            thr, ing, egr = ingress_mb_s + egress_mb_s, ingress_mb_s, egress_mb_s
        parts = partitions * (self.replication_factor if self.unit == "broker" else 1)
        out: dict[str, float] = {}
        for dim, used, cap in (("throughput", thr, self.throughput_mb_s), ("ingress", ing, self.ingress_mb_s),
                               ("egress", egr, self.egress_mb_s), ("connections", connections, self.connections),
                               ("partitions", parts, self.partitions)):
            if cap:
                out[dim] = used / cap
        return out


def capacity_from_limits(name: str, unit: str) -> UnitCapacity:
    """Per-unit capacity from a limits profile: its CKU figures, or its self-managed broker class."""
    limits = load_limits(name)
    if unit == "cku":
        c = limits.cku
        return UnitCapacity(unit="cku", description=f"1 CKU ({limits.name} limits)",
                            throughput_mb_s=c.throughput_mb_s, ingress_mb_s=c.ingress_mb_s,
                            egress_mb_s=c.egress_mb_s, connections=c.connections, partitions=c.partitions)
    b = limits.broker
    return UnitCapacity(unit="broker", description=f"1 broker ({limits.name} limits)",
                        throughput_mb_s=b.throughput_mb_s, connections=b.connections,
                        partitions=b.max_partition_replicas, replication_factor=limits.replication_factor,
                        counts_replication=True)


def capacity_from_file(path: Path, replication_factor: int = 3) -> UnitCapacity:
    """Per-broker capacity from an observe capacity file (`broker:` section; client bytes)."""
    from brokerscale.observe.capacity import load_capacity_file

    spec = load_capacity_file(path).broker
    return UnitCapacity(unit="broker", description=f"1 broker ({path})", throughput_mb_s=spec.throughput_mb_s,
                        ingress_mb_s=spec.ingress_mb_s, egress_mb_s=spec.egress_mb_s,
                        connections=spec.connections, partitions=spec.partition_replicas,
                        replication_factor=replication_factor)


def resolve_capacity(limits: str | None, unit: str) -> UnitCapacity:
    """`--limits NAME|FILE`: a limits profile, or (brokers) a capacity file with a `broker:` section."""
    name = limits or "design-doc"
    path = Path(name)
    if unit == "broker" and path.is_file():
        from brokerscale.model.files import read_yaml

        data = read_yaml(path)
        if isinstance(data, dict) and "broker" in data and "cku" not in data:
            return capacity_from_file(path)
    if unit not in ("cku", "broker"):
        raise BadInput(f"--unit: {unit!r} must be cku or broker")
    return capacity_from_limits(name, unit)


@dataclass(frozen=True)
class Thresholds:
    """The scaling guide's trigger table, per dimension: percent of the capacity in effect."""

    warning: dict[str, float]
    critical: dict[str, float]


def trigger_thresholds() -> Thresholds:
    """Warning / critical thresholds from the default trigger rules (throughput 70/85, connections 70/85,
    partitions 80/90); the same table `check` uses."""
    rules = load_rules()
    table = {"throughput": rules.throughput, "ingress": rules.throughput, "egress": rules.throughput,
             "connections": rules.connections, "partitions": rules.partitions}
    warn = {d: float(r.warning if r.warning is not None else 100.0) for d, r in table.items()}
    crit = {d: float(r.critical if r.critical is not None else 100.0) for d, r in table.items()}
    return Thresholds(warning=warn, critical=crit)


def snapshot_load(snap: Snapshot) -> tuple[float, float, float, float]:
    """(ingress MB/s, egress MB/s, connections, partitions) of a snapshot; unknown figures count 0."""
    s = snap.with_totals()
    return ((s.bytes_in_per_s or 0.0) / MB, (s.bytes_out_per_s or 0.0) / MB, float(s.connections or 0),
            float(s.partition_count or 0))
