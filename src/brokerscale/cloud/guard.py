"""Is this CKU change safe to ask for? (pure: cluster, load and limits in, a verdict out)

Mirrors the Confluent CLI's shrink guard: shrink one CKU at a time, never below what multi-zone needs,
never when the partitions would not fit (4,500 per CKU in both shipped profiles) or when the cluster
load is over 70%. Growing is always allowed. A change already in flight blocks a new one.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.model.limits import LimitsProfile

SHRINK_MAX_LOAD = 0.70


class ResizeVerdict(BaseModel):
    cluster: str
    current: int | None
    target: int
    direction: str
    refusals: list[str] = Field(default_factory=list)
    partitions: float | None = None
    load_ratio: float | None = None

    @property
    def allowed(self) -> bool:
        return not self.refusals and self.direction != "none"


def check_resize(cluster: CloudCluster, target: int, *, partitions: float | None, load_ratio: float | None,
                 limits: LimitsProfile, max_load: float = SHRINK_MAX_LOAD) -> ResizeVerdict:
    current = cluster.status_cku
    direction = "none" if current == target else ("up" if current is None or target > current else "down")
    v = ResizeVerdict(cluster=cluster.id, current=current, target=target, direction=direction,
                      partitions=partitions, load_ratio=load_ratio)
    if cluster.kind != "Dedicated":
        v.refusals.append(f"{cluster.id} is a {cluster.kind or 'non-Dedicated'} cluster: CKUs apply to "
                          "Dedicated clusters only")
        return v
    if cluster.resizing or cluster.phase == "PROVISIONING":
        v.refusals.append(f"{cluster.id} is still changing (phase {cluster.phase}, status.cku {current}, "
                          f"spec cku {cluster.spec_cku}); wait until it is PROVISIONED")
    if target < 1:
        v.refusals.append("--cku: must be at least 1")
    if cluster.multi_zone and target < limits.cku.min_multi_zone:
        v.refusals.append(f"--cku: a multi-zone Dedicated cluster needs at least {limits.cku.min_multi_zone} CKUs")
    if direction == "down" and current is not None:
        if target < current - 1:
            v.refusals.append(f"shrink one CKU at a time: {current} -> {target} removes {current - target}; "
                              f"resize to {current - 1} first")
        cap = limits.cku.partitions * target
        if partitions is None:
            v.refusals.append("cannot read the partition count, so the shrink cannot be checked")
        elif partitions > cap:
            v.refusals.append(f"{partitions:,.0f} partitions exceed what {target} CKUs hold "
                              f"({limits.cku.partitions:,} x {target} = {cap:,})")
        if load_ratio is None:
            v.refusals.append("cannot read cluster_load_percent, so the shrink cannot be checked")
        elif load_ratio > max_load:
            v.refusals.append(f"cluster load is {load_ratio:.0%}, over the {max_load:.0%} a shrink allows")
    return v
