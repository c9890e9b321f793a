"""Topic plans as files: `topics optimize -o plan.json` writes the reviewed changes, `topics apply` runs them.

The file records, per topic, what the cluster looked like when the plan was reviewed (partition count
and the current value of every config it changes) next to the change itself. `apply` re-reads exactly
those facts and refuses — naming what changed — if any differs: a plan reviewed against one state is
never applied to another. Nothing is re-measured or re-decided at apply time; the reviewed file is the
change.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from brokerscale.errors import BadInput, from_validation_error
from brokerscale.model.files import read_json
from brokerscale.topics.model import ConfigChange, PartitionPlan, TopicReview, TopicState

KIND = "brokerscale-topics-plan"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1)
    current: str | None
    target: str
    reason: str = ""


class _Partitions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: int = Field(ge=1)
    target: int = Field(ge=1)
    formula: int
    floor: int
    cap: int
    capped: bool
    rule: str
    action: Literal["increase"]
    partition_key: str | None
    needs_key_remap: bool = False
    moved_key_fraction: float = 0.0


class _Topic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str = Field(min_length=1)
    topic_class: str | None = Field(default=None, alias="class")
    partitions_now: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    configs: list[_Config] = Field(default_factory=list)
    partitions: _Partitions | None = None


class _PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["brokerscale-topics-plan"]
    version: Literal[1]
    cluster: str
    window_s: float | None = None
    topics: list[_Topic]


def plan_document(cluster: str, window_s: float, reviews: list[TopicReview], *, configs_only: bool) -> dict[str, Any]:
    """The reviewed changes (only topics with something to do; partitions left out with configs_only)."""
    topics: list[dict[str, Any]] = []
    for r in reviews:
        p = r.partitions
        grow = p is not None and p.action == "increase" and not configs_only
        if not r.config_changes and not grow:
            continue
        entry: dict[str, Any] = {"topic": r.topic, "class": r.topic_class, "partitions_now": r.state.partitions,
                                 "replication_factor": r.state.replication_factor,
                                 "configs": [asdict(c) for c in r.config_changes]}
        if grow and p is not None:
            entry["partitions"] = r.to_dict()["partitions"]
        topics.append(entry)
    return {"kind": KIND, "version": 1, "cluster": cluster, "window_s": round(window_s, 3), "topics": topics}


def read_topics_plan(path: Path) -> tuple[str, list[TopicReview]]:
    """The cluster the plan was made for, and the plan as reviews `apply_reviews` runs unchanged (their
    states are the ones recorded at review time)."""
    doc = read_json(path)
    try:
        spec = _PlanFile.model_validate(doc)
    except ValidationError as exc:
        raise from_validation_error(str(path), exc, _PlanFile) from None
    seen: set[str] = set()
    out: list[TopicReview] = []
    for i, t in enumerate(spec.topics):
        if t.topic in seen:
            raise BadInput(f"{path}: topics[{i}].topic: {t.topic} appears twice")
        seen.add(t.topic)
        current = {c.key: c.current for c in t.configs if c.current is not None}
        plan = None
        if t.partitions is not None:
            q = t.partitions
            if q.current != t.partitions_now or q.target <= q.current:
                raise BadInput(f"{path}: topics[{i}].partitions: {q.current} -> {q.target} is not an increase "
                               f"from the recorded {t.partitions_now} partitions")
            plan = PartitionPlan(q.current, q.target, q.formula, q.floor, q.cap, q.capped, q.rule, "increase",
                                 q.partition_key)
        out.append(TopicReview(t.topic, t.topic_class,
                               TopicState(t.topic, t.partitions_now, t.replication_factor, current), None, plan,
                               [ConfigChange(c.key, c.current, c.target, c.reason) for c in t.configs]))
    return spec.cluster, out


def drift(planned: list[TopicReview], now: dict[str, TopicState]) -> list[str]:
    """What differs between the states recorded in the plan and the cluster now, one phrase each."""
    out: list[str] = []
    for r in planned:
        cur = now.get(r.topic)
        if cur is None:
            out.append(f"{r.topic} no longer exists")
            continue
        if cur.partitions != r.state.partitions:
            out.append(f"{r.topic} has {cur.partitions} partitions (the plan was made at {r.state.partitions})")
        for c in r.config_changes:
            value = cur.configs.get(c.key)
            if value != c.current:
                out.append(f"{r.topic} {c.key} is {value} (the plan was made at {c.current})")
    return out
