"""One background sampling loop per cluster, shared by every viewer of the dashboard.

Each loop drives the same `Observer` as `brokerscale observe` (so the pages and `observe --format json`
agree), keeps the latest round in memory and lets the Observer record history in the store. A cluster
that cannot be reached keeps its last good round and says why it is stale; the loop keeps trying.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from brokerscale.errors import BrokerscaleError
from brokerscale.kafka.errors import describe
from brokerscale.observe.capacity import Capacity, from_brokers
from brokerscale.observe.collect import Observer, Round
from brokerscale.store.samples import Sample


@dataclass
class LiveState:
    cluster: str
    round: Round | None = None
    capacity: Capacity | None = None
    error: str | None = None
    updated_at: float | None = None
    rounds: int = 0
    history_keys: list[str] = field(default_factory=list)  # where the store keeps its offset history


@dataclass
class ClusterLoop:
    """Samples one cluster every `interval` seconds in a daemon thread."""

    make_observer: Callable[[], Observer]
    interval: float = 10.0
    label: str = ""
    _state: LiveState = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _observer: Observer | None = None

    def __post_init__(self) -> None:
        self._state = LiveState(self.label)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"observe-{self.label}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._observer is not None:
            self._observer.close()

    def state(self) -> LiveState:
        with self._lock:
            return LiveState(**vars(self._state))

    def wait_rounds(self, n: int, timeout: float) -> bool:
        """Block until `n` rounds are in (tests and the first page load use it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state().rounds >= n:
                return True
            time.sleep(0.1)
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._one()
            self._stop.wait(max(0.5, self.interval - (time.monotonic() - started)))

    def _one(self) -> None:
        try:
            if self._observer is None:
                self._observer = self.make_observer()
            r = self._observer.sample()
            cap = self._observer.capacity
            if cap is None and self._observer.capacity_file is not None:
                cap = from_brokers(self._observer.capacity_file, [b.id for b in r.snapshot.brokers])
            self._record_units(r, cap)
            with self._lock:
                self._state.round, self._state.capacity = r, cap
                self._state.error, self._state.updated_at = None, time.time()
                self._state.rounds += 1
                self._state.history_keys = self._observer.offset_history_keys
        except BrokerscaleError as exc:
            self._failed(exc.message)
        except Exception as exc:  # a dead cluster must not end the loop: report it on the page, retry
            self._failed(describe(exc))

    def _failed(self, why: str) -> None:
        """The round failed: say why. A round the cluster did not answer has dropped the Observer's admin
        client already (`Observer.sample`), so the next round reconnects."""
        with self._lock:
            self._state.error = why

    def _record_units(self, r: Round, cap: Capacity | None) -> None:
        """Units (CKUs or live brokers) over time, for the timeline's units chart."""
        obs = self._observer
        if obs is None or obs.store is None:
            return
        units = cap.units if cap is not None and cap.unit == "cku" else sum(1 for b in r.snapshot.brokers if b.alive)
        key = obs.offset_history_keys[0]  # Kafka's cluster id, where the rest of its history is
        obs.store.write_samples([Sample(r.snapshot.taken_at, key, "units", float(units),
                                        {"unit": cap.unit if cap else "broker"})])
