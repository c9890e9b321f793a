"""Moving data as fast as the operator's throttle allows, and never faster.

Kafka's replication quota does not deliver the rate it is set to. A follower whose quota is exceeded
leaves its throttled partitions out of the next fetch and, with nothing left to ask for, backs off for
`replica.fetch.backoff.ms` (1 s) before it looks again; the quota is judged over 11 one-second samples;
each fetch brings up to `replica.fetch.max.bytes` per partition. Measured on the dev cluster: 10 MB/s set,
about 8.1 MB/s delivered into the destination broker, so a move planned for 100 s took 123 s (Kafka's own
`kafka-reassign-partitions --throttle` the same).

The operator's `--throttle` is a promise to the cluster: replication traffic into or out of any broker
stays at or under it. So the executor treats it as the limit on the *achieved* rate: it measures the
bytes the moving replicas gained on each destination (and, by their leaders, sent from each source) over
windows as long as Kafka's quota window, and sets Kafka's rate so that the busiest broker's achieved rate
approaches `target` x the limit. It raises the set rate only from the best of at least two windows at
the current rate, each with the same number of moves in flight throughout (a partition finishing leaves a
dip until the next one starts, and a tail of finishing moves cannot fill the quota: neither may look like
an inefficient quota), by at most `step` at a time and never above `most` x the limit; it lowers it at
once when a window comes within 1 % of the limit; and never below the limit itself.

Pure: times and byte counts are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NEAR_LIMIT = 0.99  # a window at or above this fraction of the limit lowers the set rate
FETCH_BYTES = 1024 * 1024  # replica.fetch.max.bytes (Kafka's default): the quota's unit of delivery
MIN_FETCHES_PER_WINDOW = 8  # below this many fetches' worth per window a rate is granularity, not quota


def tunable(limit: int, window_s: float = 10.0) -> bool:
    """Whether Kafka's delivery at this limit can be measured and corrected: at 10 KB/s one fetch is
    minutes of quota, so a window's rate says nothing about the quota's efficiency (and Kafka's rate is
    then left exactly as the operator set it)."""
    return limit * window_s >= MIN_FETCHES_PER_WINDOW * FETCH_BYTES


@dataclass
class RateTuner:
    limit: int  # bytes/s per broker: what the operator asked for, the ceiling of the achieved rate
    window_s: float = 10.0  # Kafka's replication quota is judged over 11 samples of 1 s
    target: float = 0.95  # aim here: Kafka's quota lets a fetch overshoot, so leave room
    step: float = 1.25  # raise by at most this factor per window
    most: float = 1.5  # never set more than this times the limit
    rate: int = 0  # the rate set on the brokers now (0: not yet known, taken as the limit)
    _samples: list[tuple[float, dict[str, int], int]] = field(default_factory=list)
    _since: float | None = None  # when the current rate took effect
    _busiest: int = 0  # the most moves ever in flight at once in this run
    _best: float = 0.0  # the highest busy-window rate seen at the current rate

    def __post_init__(self) -> None:
        if self.rate <= 0:
            self.rate = self.limit

    def observe(self, now: float, moved: dict[str, int], in_flight: int) -> int | None:
        """One poll: `moved` is the bytes moved so far through each broker ("in 4": into broker 4, "out 1":
        out of broker 1), cumulative over the run. Returns the rate to set now, or None to keep it."""
        if self._since is None:
            self._since = now
        self._busiest = max(self._busiest, in_flight)
        self._samples.append((now, dict(moved), in_flight))
        start = now - self.window_s
        while len(self._samples) > 2 and self._samples[1][0] <= start:
            self._samples.pop(0)  # keep exactly one sample at or before the window's start
        first_ts, first, _ = self._samples[0]
        if first_ts > start or first_ts < self._since:
            return None  # not a full window yet at the current rate
        seen = max(((n - first.get(k, 0)) / (now - first_ts) for k, n in moved.items()), default=0.0)
        if seen <= 0:
            return None
        if seen >= NEAR_LIMIT * self.limit:
            new = int(self.rate * self.target * self.limit / seen)
        else:
            if all(n == self._busiest for _, _, n in self._samples):
                self._best = max(self._best, seen)
            if self._best <= 0 or now - self._since < 2 * self.window_s:
                return None  # one window may be a dip; a finishing tail says nothing about the quota
            new = int(self.rate * min(self.step, self.target * self.limit / self._best))
        new = max(self.limit, min(int(self.most * self.limit), new))
        if abs(new - self.rate) < 0.02 * self.rate:
            return None
        self.rate = new
        self._since = now
        self._best = 0.0
        return new

    def window_rates(self) -> dict[str, float]:
        """The achieved rate per broker over the samples kept (the last window), for progress and audit."""
        if len(self._samples) < 2:
            return {}
        (t0, first, _), (t1, last, _) = self._samples[0], self._samples[-1]
        if t1 <= t0:
            return {}
        return {k: (n - first.get(k, 0)) / (t1 - t0) for k, n in last.items()}
