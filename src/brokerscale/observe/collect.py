"""One observation loop for `observe`, `check`, `lag` and the exporter: admin view + broker metrics ->
Snapshot, with the offset history that time lag and lag status need.

The Observer keeps the previous broker scrape and the offset history between rounds, so `--watch` and
the exporter get rates over their own interval; a one-shot command takes two rounds `interval` apart.
History is also written to and read back from the store, so separate runs build on each other.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from brokerscale.connect import ConnectionProfile
from brokerscale.errors import BadInput, MetricsUnreachable
from brokerscale.kafka import TP, KafkaAdmin, fastpath
from brokerscale.model.snapshot import Finding, Snapshot
from brokerscale.observe import jmx, kafka_source
from brokerscale.observe.append_time import append_times
from brokerscale.observe.capacity import Capacity, CapacityFile, Utilization, from_brokers, utilization
from brokerscale.observe.history_keys import id_key, identity_sample
from brokerscale.observe.lag_eval import LagThresholds, time_lag
from brokerscale.observe.lag_history import COMMITTED_METRIC, LEO_METRIC, OffsetHistory, lag_snapshot
from brokerscale.observe.rules import RuleSet
from brokerscale.observe.triggers import evaluate

if TYPE_CHECKING:  # the store package pulls in SQLAlchemy: only when samples are really written
    import httpx  # and httpx only when a broker's exporter or Prometheus is read (not for `lag`)

    from brokerscale.dev.cluster import DevCluster
    from brokerscale.observe.prometheus_source import PrometheusRound
    from brokerscale.store.samples import Sample

# Cluster-wide figures kept as history (forecast storage reads retained_bytes back), under Kafka's cluster id
# (observe/history_keys.py) so one cluster has one history whichever name it was observed under.
# Per-topic history (label `topic`): size on disk (all replicas), bytes in, retention.ms, retention.bytes
# of the whole topic, replication factor.
TOPIC_SIZE, TOPIC_BYTES_IN = "topic_size_bytes", "topic_bytes_in_per_s"
TOPIC_RETENTION_MS, TOPIC_RETENTION_BYTES, TOPIC_REPLICATION = (
    "topic_retention_ms", "topic_retention_bytes", "topic_replication_factor")
HISTORY_FIELDS = ("bytes_in_per_s", "bytes_out_per_s", "messages_in_per_s", "connections", "requests_per_s",
                  "partition_count", "retained_bytes", "under_replicated_partitions")


def parse_metrics_urls(values: list[str]) -> dict[int, str]:
    """`--metrics-url 1=http://host:port/metrics` (repeatable) -> {1: url}."""
    out: dict[int, str] = {}
    for v in values:
        bid, sep, url = v.partition("=")
        if not sep or not bid.strip().isdigit() or not url.startswith(("http://", "https://")):
            raise BadInput(f"--metrics-url: {v!r} is not BROKER_ID=http://HOST:PORT/metrics")
        out[int(bid)] = url
    return out


def dev_cluster_for(bootstrap: str) -> DevCluster | None:
    """The local dev cluster that serves `bootstrap`, if it is one."""
    from brokerscale.dev.cluster import DevCluster

    ports = {int(hp.rsplit(":", 1)[1]) for hp in bootstrap.split(",") if ":" in hp and hp.rsplit(":", 1)[1].isdigit()}
    for c in DevCluster.all():
        if ports & {n.port for n in c.nodes.values()}:
            return c
    return None


def dev_metrics_urls(bootstrap: str) -> dict[int, str]:
    """JMX exporter URLs of the local dev cluster that serves `bootstrap`, if it is one."""
    c = dev_cluster_for(bootstrap)
    return c.metrics_urls if c is not None else {}


def _add_unattributed(snap: Snapshot, extra: dict[str, float]) -> Snapshot:
    upd: dict[str, float | int] = {}
    for attr, v in extra.items():
        cur = getattr(snap, attr)
        total = (cur or 0) + v
        upd[attr] = int(total) if attr == "connections" else total
    return snap.model_copy(update=upd)


class _Dating:
    """The append-time search of one round, in its thread; `finish` waits for it once and adds what it
    found to the history (or raises what stopped it)."""

    def __init__(self, tps: set[TP], finish: Callable[[], None]) -> None:
        self.tps = tps
        self._finish: Callable[[], None] | None = finish

    def finish(self) -> None:
        done, self._finish = self._finish, None
        if done is not None:
            done()


@dataclass
class Round:
    snapshot: Snapshot
    utilization: list[Utilization]
    findings: list[Finding]


@dataclass
class Observer:
    """Observe one cluster repeatedly. `store=None` keeps history in memory only."""

    profile: ConnectionProfile
    rules: RuleSet
    capacity: Capacity | None = None
    capacity_file: CapacityFile | None = None
    metrics_urls: dict[int, str] = field(default_factory=dict)
    prometheus_url: str | None = None
    prometheus_broker_label: str | None = None
    exporter_urls: dict[int, str] = field(default_factory=dict)  # to recognise brokers in Prometheus
    store: Any = None
    groups_only: bool = False
    date_lag: bool = True  # search append times where the history only bounds a time lag from below
    date_budget: int = 1000  # partitions dated per round at most (each search is a few round trips)
    date_budget_s: float = 2.0  # and no new search step after this long: undated figures stay lower bounds
    history: OffsetHistory = field(default_factory=OffsetHistory)
    _admin: KafkaAdmin | None = None
    _append_cache: dict[tuple[tuple[str, int], int], tuple[float, float]] = field(default_factory=dict)
    _prev: dict[int, jmx.Scrape] = field(default_factory=dict)
    _prev_prom: PrometheusRound | None = None
    _http: httpx.Client | None = None
    _prev_view: kafka_source.AdminView | None = None
    _loaded: bool = False

    @property
    def topic_models(self) -> bool:
        """Whether a round models the topics. Only groups are judged and no history is written (`lag
        --no-history`): nothing reads them, and the round's snapshot has no topics (nor their totals
        and findings); its groups are the same."""
        return not self.groups_only or self.store is not None

    @property
    def cluster(self) -> str:
        return self.profile.label

    def admin(self) -> KafkaAdmin:
        """The admin client, connected at the first round and kept while rounds succeed (a round on a
        connected client costs no bootstrap); a failed round drops it (`sample`)."""
        if self._admin is None:
            self._admin = self.profile.admin(timeout_s=6.0)
        return self._admin

    @contextlib.contextmanager
    def connected(self) -> Iterator[KafkaAdmin]:
        """The admin client for a read between rounds (`scale run`'s layout and reassignment checks). A
        failure drops the client as a failed round does (`sample`): an outage that begins between two
        rounds then costs one failure here, not another slow round on the dead client after it."""
        try:
            yield self.admin()
        except Exception:
            self._drop_admin()
            raise

    def _drop_admin(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):  # closing a dead cluster's client must not mask the error
                self._admin.close()
            self._admin = None

    def close(self) -> None:
        self._drop_admin()
        if self._http is not None:
            self._http.close()
            self._http = None

    def history_key(self, view: kafka_source.AdminView) -> str:
        """Offset history belongs to the cluster Kafka says this is, whichever name or bootstrap address
        the user typed: `check -c trial1` and `check -b host:port` read and extend the same history."""
        return id_key(view.cluster_id) if view.cluster_id else self.cluster

    @property
    def offset_history_keys(self) -> list[str]:
        """The store keys this cluster's offset history is under (by Kafka's id once known; by name before)."""
        first = self.history_key(self._prev_view) if self._prev_view is not None else self.cluster
        return list(dict.fromkeys((first, self.cluster)))

    def _load_history(self, view: kafka_source.AdminView) -> None:
        if self._loaded or self.store is None:
            return
        since = view.ts - self.rules.consumer_lag.window
        for key in dict.fromkeys((self.history_key(view), self.cluster)):  # by id; by name before ids were used
            self.history.add_samples(self.store.read_samples(key, LEO_METRIC, since=since),
                                     self.store.read_samples(key, COMMITTED_METRIC, since=since))
        self._loaded = True

    def _start_dating(self, view: kafka_source.AdminView) -> _Dating | None:
        """Where the history cannot date the first unconsumed record of a partition (the group stopped
        before the history began), find its append time by ListOffsets-by-timestamp search and add what
        that proves to the log-end history: LEO was at most C just before, and past C just after.

        The search runs in a thread while the lag of every other partition is judged (its rounds are
        mostly waits on the brokers: ~0.05-0.1 s of a 20,000-partition round); `finish()` adds its
        findings to the history. None: nothing to search, the history is complete already."""
        leo = view.log_end_offsets()
        leo_get, start_get, hist_get, now = leo.get, view.log_start_offsets().get, self.history.leo.get, view.ts
        per_group: list[list[tuple[int, tuple[str, int], int]]] = []
        for committed in view.committed.values():  # 20,000 partitions in a first round: lookups hoisted
            mine = []
            for tp, c in committed.items():
                if c is None:
                    continue
                end = leo_get(tp)
                if end is None:
                    continue
                first = start_get(tp)
                eff = first if first is not None and first > c else c
                if end <= eff:
                    continue
                hist = hist_get(tp)
                # a single observation above the offset only bounds the time lag from below (time_lag
                # would say so too; a first round asks this of all 20,000 partitions at once)
                if not hist or (len(hist) == 1 and hist[0][1] > eff) \
                        or time_lag(eff, now, hist).lower_bound:  # type: ignore[union-attr]
                    mine.append((end - eff, tp, eff))
            if mine:
                mine.sort(reverse=True)
                per_group.append(mine)
        # Every group's most-behind partition first, then the next of each, up to the budget; partitions
        # beyond it keep their figure marked as a lower bound.
        need: set[tuple[tuple[str, int], int]] = set()
        rank = 0
        while per_group and len(need) < self.date_budget:
            for mine in per_group:
                if len(need) >= self.date_budget:
                    break
                need.add((mine[rank][1], mine[rank][2]))
            rank += 1
            per_group = [mine for mine in per_group if rank < len(mine)]
        self._append_cache = {k: v for k, v in self._append_cache.items() if k in need}
        todo = sorted(k for k in need if k not in self._append_cache)
        if not todo:
            self._add_dated_points()
            return None
        # leaders of the partitions searched, not of all 20,000
        leaders = view.partition_leaders({tp[0] for tp, _c in todo})
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lag-dating")
        search = pool.submit(copy_context().run, self._search_append_times, self.admin(), todo, leaders, view.ts)

        def finish() -> None:
            try:
                found = search.result()
            finally:
                pool.shutdown(wait=True)  # its thread has ended when the round does (cli.console_main)
            self._append_cache.update(found)
            self._add_dated_points()

        return _Dating({tp for tp, _c in need}, finish)

    def _search_append_times(self, admin: KafkaAdmin, todo: list[tuple[TP, int]], leaders: dict[TP, int],
                             ts: float) -> dict[tuple[TP, int], tuple[float, float]]:
        found: dict[tuple[TP, int], tuple[float, float]] = {}
        while todo:  # groups at different offsets of one partition: one search each, a layer at a time
            layer: dict[TP, int] = {}
            rest: list[tuple[TP, int]] = []
            for tp, c in todo:
                if tp in layer:
                    rest.append((tp, c))
                else:
                    layer[tp] = c
            for tp, bracket in append_times(admin, layer, leaders, ts, budget_s=self.date_budget_s).items():
                found[(tp, layer[tp])] = bracket
            todo = rest
        return found

    def _add_dated_points(self) -> None:
        for (tp, c), (lo, hi) in self._append_cache.items():
            self.history.add_log_end_points(tp, ((lo, c), (hi, c + 1)))

    def _http_client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            self._http = httpx.Client()
        return self._http

    def _scrape_all(self) -> tuple[dict[int, jmx.Scrape], list[str]]:
        return jmx.scrape_many(self.metrics_urls, client=self._http_client())

    def _prometheus(self, now: float, hosts: dict[int, str]) -> tuple[PrometheusRound, PrometheusRound]:
        from brokerscale.observe.prometheus_source import BrokerMapping, query_round

        assert self.prometheus_url is not None
        mapping = BrokerMapping(self.prometheus_broker_label, self.exporter_urls or self.metrics_urls, hosts)
        cur = query_round(self.prometheus_url, now, mapping, client=self._http)
        prev = self._prev_prom or query_round(self.prometheus_url, now - 60.0, mapping, client=self._http)
        self._prev_prom = cur
        return prev, cur

    def sample(self) -> Round:
        """One round: scrape brokers, read the admin view, judge lag and triggers.

        The cyclic garbage collector is paused for the round: a round builds a few hundred thousand
        short-lived, acyclic objects (partitions, offsets, dating searches, per-partition lag), and every
        walk of the collector over them cost about a fifth of a 20,000-partition `lag` round.

        A round that fails for any reason closes and drops the admin client, so the next round connects
        afresh. A kafka-python client kept through a broker outage never says so plainly: with every
        broker in its reconnect backoff each request waits out `fastpath.paced`/`any_node` retries and
        fails with `NodeNotReadyError: No node_id provided` (~20 s a round), and after the restart it
        keeps failing until its backoff lapses; a fresh connect fails in the bootstrap timeout with
        "cannot reach Kafka at ..." and succeeds at the first round the cluster answers. Every caller
        (the exporter, `observe --watch`, `scale run`, the dashboard) gets this from here."""
        try:
            with kafka_source.gc_paused(), fastpath.quick_outage():
                return self._sample()
        except MetricsUnreachable:
            raise  # Kafka answered this round: its client is fine
        except Exception:
            self._drop_admin()
            raise

    def _sample(self) -> Round:
        scrapes, _failed = self._scrape_all() if self.metrics_urls else ({}, [])
        view = kafka_source.collect(self.admin(), sizes=not self.groups_only, configs=not self.groups_only,
                                    models=self.topic_models)
        self._load_history(view)
        # The append-time search reads only log-end history and ends the round (it runs while the other
        # partitions are judged, and takes longer): it starts before the groups' positions are added.
        # Those are never older than the window, so adding them after the prune changes nothing.
        self.history.add_log_ends(view)
        self.history.prune(view.ts - self.rules.consumer_lag.window)
        dating = self._start_dating(view) if self.date_lag else None
        self.history.add_positions(view)
        lag_rule = self.rules.consumer_lag
        thresholds = LagThresholds(lag_rule.max_lag_offsets, lag_rule.max_lag_seconds)
        try:
            groups = lag_snapshot(self.history, view, min_points=lag_rule.min_observations, thresholds=thresholds,
                                  pending=dating)
        finally:
            if dating is not None:  # waited for even when the judging failed: no search is left running
                dating.finish()
        brokers = {b.id: b for b in view.brokers}
        window: float | None = None
        prev_scrapes: list[jmx.Scrape] = []
        cur_scrapes: list[jmx.Scrape] = []
        notes: list[str] = []
        unmapped: dict[str, float] = {}
        if self.prometheus_url:
            from brokerscale.observe.prometheus_source import unmapped_totals

            self._http_client()
            prev_round, cur_round = self._prometheus(view.ts, {b.id: b.host for b in view.brokers if b.host})
            prev_scrapes, cur_scrapes = prev_round.brokers, cur_round.brokers
            unmapped = unmapped_totals(prev_round, cur_round)
            note = cur_round.note()
            if note:
                notes.append(note)
        else:
            for bid, cur in scrapes.items():
                prev = self._prev.get(bid)
                if prev is not None:
                    prev_scrapes.append(prev)
                    cur_scrapes.append(cur)
            self._prev.update(scrapes)
        prev_by = {s.broker_id: s for s in prev_scrapes}
        for cur in cur_scrapes:
            prev = prev_by.get(cur.broker_id)
            if prev is None or cur.broker_id not in brokers or not brokers[cur.broker_id].alive:
                continue
            load = jmx.broker_load(prev, cur)
            window = cur.ts - prev.ts
            keep = brokers[cur.broker_id]
            brokers[cur.broker_id] = load.model_copy(update={
                "rack": keep.rack, "host": keep.host, "port": keep.port, "alive": True,
                "partition_replicas": keep.partition_replicas, "leaders": keep.leaders,
                "disk_used_bytes": keep.disk_used_bytes if keep.disk_used_bytes is not None
                else load.disk_used_bytes})
        rates = jmx.topic_rates(prev_scrapes, cur_scrapes) if cur_scrapes else {}
        if self._prev_view is not None and not self.groups_only:
            # Bytes and messages in from exact, timestamped admin data; the exporter keeps bytes out.
            t_rates, b_rates = kafka_source.admin_rates(self._prev_view, view)
            for name, upd in t_rates.items():
                rates.setdefault(name, {}).update(upd)
            for bid, b in brokers.items():
                if b.alive:
                    brokers[bid] = b.model_copy(update=b_rates.get(bid, {"bytes_in_per_s": 0.0,
                                                                          "messages_in_per_s": 0.0}))
            window = view.ts - self._prev_view.ts
        self._prev_view = view
        topics = [t.model_copy(update=rates.get(t.name, {})) for t in view.topics]
        snap = Snapshot(cluster=self.cluster, source="kafka-admin+prometheus" if self.prometheus_url else
                        ("kafka-admin+jmx" if self.metrics_urls else "kafka-admin"),
                        taken_at=view.ts, window_s=window, brokers=[brokers[k] for k in sorted(brokers)],
                        topics=topics, groups=groups, notes=notes)
        if unmapped:  # load no broker can be named for still counts for the cluster
            snap = _add_unattributed(snap.with_totals(), unmapped)
        snap = snap.with_totals()
        cap = self.capacity
        if cap is None and self.capacity_file is not None:
            cap = from_brokers(self.capacity_file, [b.id for b in snap.brokers])
        utils = utilization(snap, cap) if cap is not None else []
        findings = evaluate(snap, self.rules, utils, cap)
        if not self.groups_only:
            from brokerscale.dr.triggers import replication_findings

            findings += replication_findings(self.profile.bootstrap, self.rules)
        if self.store is not None:
            key = self.history_key(view)
            self.store.write_samples(self.history.to_samples(key, view) + self._cluster_samples(snap, key))
        return Round(snap, utils, findings)

    def _cluster_samples(self, snap: Snapshot, key: str) -> list[Sample]:
        """Cluster and per-topic history under `key` (Kafka's cluster id), and which id the name stood for."""
        from brokerscale.store.samples import Sample

        out = [] if key == self.cluster else [identity_sample(snap.taken_at, self.cluster, key)]
        for name in HISTORY_FIELDS:
            v = getattr(snap, name)
            if v is not None:
                out.append(Sample(snap.taken_at, key, name, float(v), {}))
        for t in snap.topics:  # per topic: what `forecast storage` needs to apply retention offline
            if t.internal:
                continue
            retained = None if t.retention_bytes is None else t.retention_bytes * len(t.partitions)
            for metric, value in ((TOPIC_SIZE, t.size_bytes), (TOPIC_BYTES_IN, t.bytes_in_per_s),
                                  (TOPIC_RETENTION_MS, t.retention_ms), (TOPIC_RETENTION_BYTES, retained),
                                  (TOPIC_REPLICATION, t.replication_factor or None)):
                if value is not None:
                    out.append(Sample(snap.taken_at, key, metric, float(value), {"topic": t.name}))
        return out

    def observe(self, interval: float, rounds: int = 2, on_round: Any = None) -> Round:
        """`rounds` rounds `interval` seconds apart; the last one is returned (rates over the last interval)."""
        last: Round | None = None
        started = time.monotonic()
        for i in range(max(1, rounds)):
            if i:  # keep the cadence: a slow round eats into the wait, not on top of it
                time.sleep(max(0.0, started + i * interval - time.monotonic()))
            last = self.sample()
            if on_round is not None:
                on_round(i + 1, rounds)
        assert last is not None
        return last
