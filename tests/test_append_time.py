"""The append-time search against a simulated partition: brackets record C's time to a second in a
handful of round trips, for many partitions at once, and leaves out what it cannot bracket."""

from __future__ import annotations

import bisect
from typing import Any

from brokerscale.observe.append_time import append_times


class FakeTimes:
    """ListOffsets by timestamp over known record times (ms, ascending) per partition."""

    def __init__(self, times: dict[tuple[str, int], list[int]], silent: frozenset[int] = frozenset()) -> None:
        self.times = times
        self.silent = silent
        self.rounds = 0

    def offsets_for_times(self, queries: list[dict[int, dict[Any, int]]]) -> tuple[list[dict[Any, int | None]],
                                                                                   dict[int, str]]:
        self.rounds += 1
        out: list[dict[Any, int | None]] = []
        for q in queries:
            found: dict[Any, int | None] = {}
            for leader, specs in q.items():
                if leader in self.silent:
                    continue
                for tp, t in specs.items():
                    i = bisect.bisect_left(self.times[tp], t)
                    found[tp] = i if i < len(self.times[tp]) else None
            out.append(found)
        return out, {b: "KafkaConnectionError" for b in self.silent}


def test_brackets_each_partition_to_a_second_in_few_rounds() -> None:
    now = 1_700_000_000.0
    a, b, c = ("t", 0), ("t", 1), ("u", 0)
    times = {a: [int((now - 5000 + 10 * i) * 1000) for i in range(400)],  # record 7 at now - 4930 s
             b: [int((now - 3 + 0.1 * i) * 1000) for i in range(20)],  # record 2 at now - 2.8 s
             c: [int((now - 86_400 * 30) * 1000), int((now - 60) * 1000)]}  # record 1 at now - 60 s
    fake = FakeTimes(times)
    got = append_times(fake, {a: 7, b: 2, c: 1}, {a: 1, b: 2, c: 3}, now)  # type: ignore[arg-type]
    for tp, offset in ((a, 7), (b, 2), (c, 1)):
        lo, hi = got[tp]
        assert hi - lo <= 1.0
        assert lo <= times[tp][offset] / 1000 < hi + 1e-3
    assert fake.rounds <= 12  # a few per factor of 16 back and of 5 narrower: not one per probe or partition


def test_silent_leader_and_unknown_leader_are_left_out() -> None:
    now = 1_700_000_000.0
    times = {("t", 0): [int((now - 100) * 1000)] * 3, ("t", 1): [int((now - 100) * 1000)] * 3}
    got = append_times(FakeTimes(times, frozenset({2})), {("t", 0): 1, ("t", 1): 1, ("t", 2): 1},  # type: ignore[arg-type]
                       {("t", 0): 1, ("t", 1): 2}, now)
    assert set(got) == {("t", 0)}
    lo, hi = got[("t", 0)]
    assert lo <= now - 100 < hi + 1e-3
