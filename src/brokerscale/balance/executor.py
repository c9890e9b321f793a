"""The executor: apply a reassignment in throttled batches, resumable, never hanging on a dead broker.

Why it looks like this:
- At most N moves touch any broker at once (default 5), so one broker's disk and network are never
  swamped, and a slow broker only slows its own moves.
- Replication throttles are set on exactly the brokers and topic replicas involved and are removed in
  a `finally`: at the end, on cancel, on failure, on Ctrl-C.
- State is saved after every completed partition, so re-running resumes; the controller's own list of
  ongoing reassignments is the source of truth for what is in flight.
- Each poll checks that every destination broker is alive; a dead one stops the run with a message
  saying what waits for it, instead of waiting forever (Cruise Control #664, #809, #1086).
- A running executor never continues unthrottled: every few seconds it reads the throttle configs
  back and sets them again if something removed them. And it honours a cancel requested from another
  shell (`rebalance cancel`): it starts nothing more, rolls back its in-flight moves and stops.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from brokerscale.balance.kafka_ops import BROKER_RATES, TOPIC_LISTS, TP
from brokerscale.balance.state import ExecState, Move, save_state
from brokerscale.errors import NotAuthorized, OperationFailed, Unreachable


class Ops(Protocol):
    def live_brokers(self) -> set[int]: ...
    def placement(self, topics: list[str]) -> dict[TP, tuple[list[int], int | None]]: ...
    def ongoing(self) -> dict[TP, dict[str, list[int]]]: ...
    def submit(self, changes: dict[TP, list[int] | None]) -> dict[TP, str]: ...
    def set_configs(self, brokers: dict[int, dict[str, str | None]],
                    topics: dict[str, dict[str, str | None]]) -> None: ...
    def elect_preferred(self, partitions: list[TP]) -> None: ...
    def throttle_configs(self, brokers: list[int], topics: list[str]) -> dict[str, dict[str, str]]: ...
    def check_permitted(self, brokers: dict[int, dict[str, str | None]],
                        topics: dict[str, dict[str, str | None]]) -> None: ...


class Audit(Protocol):
    def audited(self, *, actor: str, action: str, target: str, intent: dict[str, Any] | None = None,
                before: dict[str, Any] | None = None, correlation_id: str | None = None) -> Any: ...


class RunCancelled(OperationFailed):
    """`rebalance cancel` asked the running executor to stop."""


@dataclass
class Progress:
    """What the progress bar shows; `on_progress` gets one after every poll."""

    total_bytes: int
    done_bytes: int
    done: int
    total: int
    in_flight: int


def throttle_plan(moves: list[Move], rate: int | None) -> tuple[dict[int, dict[str, str | None]],
                                                                 dict[str, dict[str, str | None]]]:
    """Broker rates on every broker a pending move touches; per-topic replica lists as Kafka's tool sets
    them (leader throttle on the current replicas, follower throttle on the replicas being added)."""
    if rate is None or not moves:
        return {}, {}
    brokers: dict[int, dict[str, str | None]] = {}
    leader: dict[str, list[str]] = {}
    follower: dict[str, list[str]] = {}
    for m in moves:
        for b in set(m.original) | set(m.target):
            brokers[b] = dict.fromkeys(BROKER_RATES, str(rate))
        leader.setdefault(m.topic, []).extend(f"{m.partition}:{b}" for b in m.original)
        follower.setdefault(m.topic, []).extend(f"{m.partition}:{b}" for b in m.adding)
    topics: dict[str, dict[str, str | None]] = {}
    for t in sorted(set(leader) | set(follower)):
        topics[t] = {TOPIC_LISTS[0]: ",".join(leader.get(t, [])) or None,
                     TOPIC_LISTS[1]: ",".join(follower.get(t, [])) or None}
        topics[t] = {k: v for k, v in topics[t].items() if v is not None}
    return brokers, topics


def clear_throttles(ops: Ops, state: ExecState, audit: Audit | None, path: Path | None, actor: str) -> None:
    """Remove every throttle this run set (recorded in the state before it was set).

    A broker that is down cannot be asked to drop its own rate; it stays recorded in the state and the
    next `execute` or `cancel` removes it once the broker is back.
    """
    if not state.throttled_brokers and not state.throttled_topics:
        return
    try:
        live = ops.live_brokers()
    except Unreachable:
        live = set(state.throttled_brokers)
    reachable = [b for b in state.throttled_brokers if b in live]
    left = [b for b in state.throttled_brokers if b not in live]
    brokers: dict[int, dict[str, str | None]] = {b: dict.fromkeys(BROKER_RATES) for b in reachable}
    topics: dict[str, dict[str, str | None]] = {t: dict.fromkeys(TOPIC_LISTS) for t in state.throttled_topics}
    intent = {"brokers": sorted(brokers), "topics": sorted(topics), "delete": list(BROKER_RATES + TOPIC_LISTS)}
    if audit is not None:
        with audit.audited(actor=actor, action="rebalance.throttle.remove", target=state.cluster,
                           intent=intent, correlation_id=state.plan_id) as change:
            ops.set_configs(brokers, topics)
            change.after = {"removed": True, "left_on_offline_brokers": left}
    else:
        ops.set_configs(brokers, topics)
    state.throttled_brokers = left
    state.throttled_topics = []
    if left:
        state.message += (f" (the throttle rate stays on offline broker {','.join(map(str, left))} until it is back "
                          "and `rebalance execute` or `rebalance cancel --apply` runs)")
    if path is not None:
        save_state(path, state)


@dataclass
class Executor:
    ops: Ops
    state: ExecState
    path: Path | None
    audit: Audit | None = None
    actor: str = "cli"
    poll_s: float = 1.0
    finish_poll_s: float = 0.1
    stall_timeout_s: float = 600.0
    unreachable_timeout_s: float = 60.0
    on_progress: Callable[[Progress], None] | None = None
    on_notice: Callable[[str], None] | None = None
    cancel_requested: Callable[[], bool] | None = None
    throttle_check_s: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    submitted: set[str] = field(default_factory=set)
    suspect: dict[str, tuple[int, float]] = field(default_factory=dict)
    _throttle_checked: float | None = field(default=None, init=False)

    def _save(self) -> None:
        if self.path is not None:
            save_state(self.path, self.state)

    def _progress(self, in_flight: int) -> None:
        if self.on_progress is None:
            return
        done = set(self.state.completed)
        self.on_progress(Progress(
            total_bytes=sum(m.bytes for m in self.state.moves),
            done_bytes=sum(m.bytes for m in self.state.moves if m.key in done),
            done=len(done), total=len(self.state.moves), in_flight=in_flight))

    def run(self) -> ExecState:
        """Execute to completion; raises OperationFailed (state saved, throttles removed) when it cannot."""
        st = self.state
        st.status = "running"
        st.message = ""
        self._save()
        try:
            # a principal without every ACL of the run (throttles, reassignments) changes nothing at all
            self.ops.check_permitted(*throttle_plan(self._pending(), st.throttle_bytes_s))
            self._set_throttles()
            self._loop()
            self._finish()
            st.status = "done"
            st.message = f"{len(st.moves)} partitions reassigned"
        except RunCancelled as exc:
            st.status = "cancelled"
            st.message = exc.message
            raise
        except (OperationFailed, NotAuthorized) as exc:
            st.status = "failed"
            st.message = exc.message
            raise
        except KeyboardInterrupt:
            st.status = "interrupted"
            st.message = "interrupted; run `brokerscale rebalance execute` again to resume"
            raise
        finally:
            try:
                clear_throttles(self.ops, st, self.audit, self.path, self.actor)
            finally:
                self._save()
        return st

    def _pending(self) -> list[Move]:
        done = set(self.state.completed)
        return [m for m in self.state.moves if m.key not in done]

    def _set_throttles(self, reason: str | None = None) -> None:
        st = self.state
        brokers, topics = throttle_plan(self._pending(), st.throttle_bytes_s)
        if not brokers and not topics:
            return
        # record first: a crash between the two lines still lets `cancel` remove them
        st.throttled_brokers = sorted(set(st.throttled_brokers) | set(brokers))
        st.throttled_topics = sorted(set(st.throttled_topics) | set(topics))
        self._save()
        intent: dict[str, Any] = {"rate_bytes_s": st.throttle_bytes_s, "brokers": sorted(brokers), "topics": topics}
        if reason:
            intent["reason"] = reason
        self._throttle_checked = self.clock()
        if self.audit is not None:
            with self.audit.audited(actor=self.actor, action="rebalance.throttle.set", target=st.cluster,
                                    intent=intent, correlation_id=st.plan_id) as change:
                self.ops.set_configs(brokers, topics)
                change.after = {"set": True}
        else:
            self.ops.set_configs(brokers, topics)

    def _loop(self) -> None:
        st = self.state
        by_key = {m.key: m for m in st.moves}
        topics = sorted({m.topic for m in st.moves})
        last_progress = self.clock()
        failing_since: float | None = None
        while True:
            self._check_cancel()
            try:
                placement = self.ops.placement(topics)
                ongoing = self.ops.ongoing()
                live = self.ops.live_brokers()
            except Unreachable as exc:
                # a broker that just died can fail a few calls; keep polling, but not forever
                failing_since = failing_since if failing_since is not None else self.clock()
                if self.clock() - failing_since > min(self.stall_timeout_s, self.unreachable_timeout_s):
                    raise OperationFailed(f"the cluster stopped answering ({exc.message}); stopped. Re-run "
                                          "`brokerscale rebalance execute` to resume when it is back") from None
                self.sleep(max(self.poll_s, 0.5))
                continue
            failing_since = None
            current = {tp: replicas for tp, (replicas, _) in placement.items()}
            leaders = {tp: leader for tp, (_, leader) in placement.items() if leader is not None}
            done = set(st.completed)
            changed = False
            for m in st.moves:
                tp = (m.topic, m.partition)
                if m.key in done or tp in ongoing:
                    continue
                now = current.get(tp)
                if now is None:
                    raise OperationFailed(f"{m.topic}-{m.partition} no longer exists; "
                                          "run `brokerscale rebalance cancel --apply` and propose again")
                if now == m.target:
                    st.completed.append(m.key)
                    done.add(m.key)
                    changed = True
                elif m.key in self.submitted:
                    # metadata can lag the controller for a moment: only a persistent mismatch counts
                    seen, since = self.suspect.get(m.key, (0, self.clock()))
                    self.suspect[m.key] = (seen + 1, since)
                    if seen + 1 < 5 or self.clock() - since < 4 * self.poll_s:
                        continue
                    raise OperationFailed(f"the reassignment of {m.topic}-{m.partition} was cancelled outside "
                                          f"brokerscale (replicas {now}, wanted {m.target})")
            if changed:
                last_progress = self.clock()
                self._save()
            in_flight = [by_key[f"{t}:{p}"] for (t, p) in ongoing if f"{t}:{p}" in by_key
                         and f"{t}:{p}" not in done]
            dead = sorted({b for m in in_flight for b in m.adding if b not in live})
            if dead:
                waiting = [m for m in in_flight if set(m.adding) & set(dead)]
                raise OperationFailed(
                    f"destination broker {','.join(map(str, dead))} is offline: {len(waiting)} moving partitions "
                    f"wait for it (e.g. {waiting[0].topic}-{waiting[0].partition}); stopped. Start the broker and "
                    "run `brokerscale rebalance execute` to resume, or `brokerscale rebalance cancel --apply`")
            pending = [m for m in st.moves if m.key not in done]
            if not pending:
                self._progress(0)
                return
            self._keep_throttled(pending, live)
            started = self._fill(pending, in_flight, ongoing, live, leaders)
            self._progress(len(in_flight) + len(started))
            if started:
                last_progress = self.clock()
            if self.clock() - last_progress > self.stall_timeout_s:
                raise OperationFailed(f"no partition finished moving in {self.stall_timeout_s:.0f} s "
                                      f"({len(in_flight)} in flight); stopped. Check the brokers, then re-run "
                                      "`brokerscale rebalance execute` to resume or `rebalance cancel --apply`")
            self._wait(pending, ongoing, started)

    def _wait(self, pending: list[Move], ongoing: dict[TP, Any], started: set[str]) -> None:
        """Sleep until the next poll; in the last wave, watch for the end.

        Once every remaining move is in flight nothing waits for a slot, and the run ends when the last
        one does: then the controller's list of reassignments alone (one small request) is read every
        `finish_poll_s`, and the full poll follows as soon as one of them leaves it, so the end (and the
        removal of the throttles) is not up to `poll_s` late. A move no longer listed but not yet in the
        metadata (which lags the controller for a moment) is looked at again after `finish_poll_s` too."""
        listed = {f"{t}:{p}" for t, p in ongoing}
        unlisted = [m for m in pending if m.key not in listed and m.key not in started]
        if self.finish_poll_s >= self.poll_s or any(m.key not in self.submitted for m in unlisted):
            self.sleep(self.poll_s)  # moves wait for a slot: the regular poll starts them
            return
        if unlisted:
            self.sleep(self.finish_poll_s)
            return
        watched = listed | started
        deadline = self.clock() + self.poll_s
        while self.clock() < deadline:
            self.sleep(min(self.finish_poll_s, max(0.0, deadline - self.clock())))
            try:
                now = {f"{t}:{p}" for t, p in self.ops.ongoing()}
            except Unreachable:
                return  # the full poll deals with a cluster that stops answering
            if not watched <= now:
                return

    def _fill(self, pending: list[Move], in_flight: list[Move], ongoing: dict[TP, Any], live: set[int],
              leaders: dict[TP, int]) -> set[str]:
        """Start as many pending moves as the per-broker limit allows, spread over the brokers they copy from
        (each partition's live leader). Returns the keys of the moves started."""
        limit = self.state.max_per_broker
        load: dict[int, int] = {}
        for m in in_flight:
            for b in set(m.adding) | set(m.removing):
                load[b] = load.get(b, 0) + 1
        # Each (destination, source) pair is one fetcher thread on the destination, and the source's leader
        # throttle meters what it serves: moves spread over sources keep the destination's throttle in use
        # (one source feeding it alone is held by its own leader throttle too: measured 6.5 against 8.4 MB/s
        # of a 10 MB/s limit at the end of a run). So the next move is the largest of the source whose
        # destination streams are least busy; within a source, largest first (they take longest).
        def source(m: Move) -> int:
            return _source(m, leaders)

        streams: dict[tuple[int, int], int] = {}
        for m in in_flight:
            for b in m.adding:
                streams[(b, source(m))] = streams.get((b, source(m)), 0) + 1
        order = [m for m in sorted(pending, key=lambda x: (-x.bytes, x.topic, x.partition))
                 if (m.topic, m.partition) not in ongoing and all(b in live for b in m.adding)]
        queues: dict[int, deque[tuple[int, Move]]] = {}
        for rank, m in enumerate(order):
            queues.setdefault(source(m), deque()).append((rank, m))

        def busy(src: int) -> tuple[int, int, int]:
            rank, head = queues[src][0]
            return max((streams.get((b, src), 0) for b in head.adding), default=0), rank, src

        heap = [busy(src) for src in queues]  # a pick changes only its own source's key
        heapq.heapify(heap)
        batch: dict[TP, list[int] | None] = {}
        while heap:
            src = heapq.heappop(heap)[2]
            _, m = queues[src].popleft()
            touched = set(m.adding) | set(m.removing)
            if all(load.get(b, 0) < limit for b in touched):  # else it cannot fit later either: loads only grow
                for b in touched:
                    load[b] = load.get(b, 0) + 1
                for b in m.adding:
                    streams[(b, src)] = streams.get((b, src), 0) + 1
                batch[(m.topic, m.partition)] = list(m.target)
            if queues[src]:
                heapq.heappush(heap, busy(src))
        self._check_cancel()
        if not batch:
            if not in_flight:
                dead = sorted({b for m in pending for b in m.adding if b not in live})
                if dead:
                    raise OperationFailed(f"destination broker {','.join(map(str, dead))} is offline; nothing "
                                          "can move to it. Start it and re-run `brokerscale rebalance execute`")
            return set()
        refused = self.ops.submit(batch)
        if refused:
            (t, p), why = sorted(refused.items())[0]
            raise OperationFailed(f"the controller refused to reassign {t}-{p}: {why}"
                                  + (f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""))
        keys = {f"{t}:{p}" for t, p in batch}
        self.submitted.update(keys)
        return keys

    def _check_cancel(self) -> None:
        """Honour `rebalance cancel` from another process: start nothing more, roll back what is moving."""
        if self.cancel_requested is None or not self.cancel_requested():
            return
        st = self.state
        try:
            ongoing = self.ops.ongoing()
        except Unreachable:
            ongoing = {}
        mine = sorted(tp for tp in ongoing if f"{tp[0]}:{tp[1]}" in {m.key for m in st.moves})
        if mine:
            intent = {"partitions": [f"{t}-{p}" for t, p in mine], "requested_by": "rebalance cancel"}
            if self.audit is not None:
                with self.audit.audited(actor=self.actor, action="rebalance.cancel", target=st.cluster,
                                        intent=intent, correlation_id=st.plan_id) as change:
                    refused = self.ops.submit(dict.fromkeys(mine))
                    change.after = {"refused": {f"{t}-{p}": e for (t, p), e in refused.items()}}
            else:
                self.ops.submit(dict.fromkeys(mine))
        raise RunCancelled(f"cancelled by `brokerscale rebalance cancel`: {len(mine)} in-flight "
                           f"reassignment{'s' if len(mine) != 1 else ''} rolled back, {len(set(st.completed))} of "
                           f"{len(st.moves)} partitions had finished")

    def _keep_throttled(self, pending: list[Move], live: set[int]) -> None:
        """Read the throttles back every few seconds; if something removed them (`kafka-configs
        --delete-config`, another tool's clean-up, a cancel from a tool that does not know this run), set
        them again: moving unthrottled can saturate the brokers the hospital's producers depend on."""
        st = self.state
        if st.throttle_bytes_s is None:
            return
        now = self.clock()
        if self._throttle_checked is not None and now - self._throttle_checked < self.throttle_check_s:
            return
        self._throttle_checked = now
        brokers, topics = throttle_plan(pending, st.throttle_bytes_s)
        brokers = {b: c for b, c in brokers.items() if b in live}
        try:
            found = self.ops.throttle_configs(sorted(brokers), sorted(topics))
        except Unreachable:
            return  # the next check will tell; the poll loop handles a cluster that stops answering
        missing = [f"broker {b}" for b, cfg in brokers.items()
                   if any(found.get(f"broker {b}", {}).get(k) != v for k, v in cfg.items())]
        # replica lists were set for a longer pending list: what is still pending must be in them
        missing += [f"topic {t}" for t, cfg in topics.items()
                    if any(not set(str(v).split(",")) <= set(found.get(f"topic {t}", {}).get(k, "").split(","))
                           for k, v in cfg.items())]
        if not missing:
            return
        reason = f"throttle configs removed outside this run: {', '.join(missing[:5])}"
        if self.on_notice is not None:
            self.on_notice(f"{reason}; setting them again")
        try:
            self._set_throttles(reason=reason)
        except Unreachable as exc:
            # A broker that just died stays in the controller's live set until it is fenced (seconds), so
            # its throttle reads back as missing and the write to it fails. The audit log has the failed
            # attempt; the poll loop says "destination broker N is offline" once it is fenced, and the next
            # check sets the throttles again if the broker was only slow.
            if self.on_notice is not None:
                self.on_notice(f"could not set the throttles again ({exc.message}); trying at the next check")

    def _finish(self) -> None:
        """Elect the proposed leaders (reordering replicas only sets the *preferred* leader)."""
        self.ops.elect_preferred([(m.topic, m.partition) for m in self.state.moves
                                  if m.original[:1] != m.target[:1]])


def cancel(ops: Ops, state: ExecState, audit: Audit | None, path: Path | None, *, actor: str = "cli",
           everything: bool = False) -> list[TP]:
    """Cancel this plan's in-flight reassignments (all of them with `everything`) and remove throttles.

    Kafka rolls a cancelled partition back to its original replicas; partitions that already finished
    keep their new place, which is a consistent state the next proposal starts from.
    """
    ongoing = ops.ongoing()
    mine = {(m.topic, m.partition) for m in state.moves}
    targets = sorted(tp for tp in ongoing if everything or tp in mine)
    try:
        if targets:
            intent = {"partitions": [f"{t}-{p}" for t, p in targets]}
            if audit is not None:
                with audit.audited(actor=actor, action="rebalance.cancel", target=state.cluster, intent=intent,
                                   correlation_id=state.plan_id) as change:
                    refused = ops.submit(dict.fromkeys(targets))
                    change.after = {"refused": {f"{t}-{p}": e for (t, p), e in refused.items()}}
            else:
                refused = ops.submit(dict.fromkeys(targets))
            # a partition that finished between the listing and the cancel has nothing left to cancel
            refused = {tp: why for tp, why in refused.items() if why != "NoReassignmentInProgressError"}
            if refused:
                (t, p), why = sorted(refused.items())[0]
                raise OperationFailed(f"the controller refused to cancel {t}-{p}: {why}")
    finally:
        clear_throttles(ops, state, audit, path, actor)
        if state.status != "cancelled" or targets:  # keep the stopped executor's own account
            state.message = f"cancelled {len(targets)} in-flight reassignment{'s' if len(targets) != 1 else ''}"
        state.status = "cancelled"
        if path is not None:
            save_state(path, state)
    return targets


def _source(m: Move, leaders: dict[TP, int]) -> int:
    """The broker a new replica copies from: the partition's live leader. After a broker restart that is
    often not the preferred (first) replica, which is only the guess for a partition without a leader."""
    return leaders.get((m.topic, m.partition), m.original[0] if m.original else -1)
