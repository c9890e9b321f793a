"""Which store key a cluster's history is under: the cluster id Kafka reports, not the name typed.

`check -c trial1` and `check -b 127.0.0.1:42811` are the same cluster; keyed by the name typed they
would keep two histories that disagree (a lag "421 s behind" next to "14 s behind"). So every
per-cluster history — offsets, retained bytes, per-topic sizes, load — is written under
`kafka-cluster-id:<id>`, and each observation also records which id the name (or bootstrap address)
it was made under stood for. Readers that have only a name — `forecast` after the cluster is gone, the
dashboard, `scale simulate --trace-from-store` — look the id up from that record, and still read rows
written under the name before ids were used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the store package pulls in SQLAlchemy: only where samples are really read or written
    from brokerscale.store.samples import Sample

ID_PREFIX = "kafka-cluster-id:"
IDENTITY_METRIC = "cluster_identity"
"""A sample under the typed name whose label `key` is the id key that name stood for at that time."""


def id_key(cluster_id: str) -> str:
    return ID_PREFIX + cluster_id


def identity_sample(ts: float, name: str, key: str) -> Sample:
    from brokerscale.store.samples import Sample

    return Sample(ts, name, IDENTITY_METRIC, 1.0, {"key": key})


def keys_for(store: Any, name: str) -> list[str]:
    """Store keys of the history of the cluster known as `name`: the id it stood for most recently (a
    dev cluster re-created under the same name is a new cluster: its predecessor's history is not
    mixed in), then the name itself (rows written before ids were used)."""
    if name.startswith(ID_PREFIX):
        return [name]
    seen = store.read_samples(name, IDENTITY_METRIC)
    latest = seen[-1].labels.get("key") if seen else None
    return [latest, name] if latest and latest != name else [name]


def read_history(store: Any, name: str, metric: str, since: float | None = None,
                 until: float | None = None) -> list[Sample]:
    """`metric` for the cluster known as `name`, from every key its history is under, in time order."""
    keys = keys_for(store, name)
    rows = [s for k in keys for s in store.read_samples(k, metric, since=since, until=until)]
    return sorted(rows, key=lambda s: s.ts) if len(keys) > 1 else rows
