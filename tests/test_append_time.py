"""The append-time search against a simulated partition: brackets record C's time to a second in a
handful of round trips, for many partitions at once, and leaves out what it cannot bracket."""

from __future__ import annotations

import bisect
from typing import Any

from brokerscale.observe.append_time import append_times


class FakeTimes:
    """ListOffsets by timestamp over known record times (ms, ascending) per partition: the first record at
    or after the time asked, as (offset, its time), as Kafka answers."""

    def __init__(self, times: dict[tuple[str, int], list[int]], silent: frozenset[int] = frozenset()) -> None:
        self.times = times
        self.silent = silent
        self.rounds = 0

    def offsets_for_times(self, queries: list[dict[int, dict[Any, int]]],
                          ) -> tuple[list[dict[Any, tuple[int, int] | None]], dict[int, str]]:
        self.rounds += 1
        out: list[dict[Any, tuple[int, int] | None]] = []
        for q in queries:
            found: dict[Any, tuple[int, int] | None] = {}
            for leader, specs in q.items():
                if leader in self.silent:
                    continue
                for tp, t in specs.items():
                    i = bisect.bisect_left(self.times[tp], t)
                    found[tp] = (i, self.times[tp][i]) if i < len(self.times[tp]) else None
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


def _search(times: dict[tuple[str, int], list[int]], committed: dict[tuple[str, int], int],
            now: float) -> tuple[dict[tuple[str, int], tuple[float, float]], int]:
    fake = FakeTimes(times)
    got = append_times(fake, committed, dict.fromkeys(committed, 1), now)  # type: ignore[arg-type]
    for tp, c in committed.items():
        lo, hi = got[tp]
        assert hi - lo <= 1.0, (tp, lo, hi)
        assert lo <= times[tp][c] / 1000 < hi, (tp, lo, times[tp][c] / 1000, hi)
    return got, fake.rounds


def test_a_burst_is_dated_to_the_millisecond_by_the_record_times_the_answers_carry() -> None:
    """Records written in one burst (the usual shape of a stopped group's backlog): once an answer names
    a record of the burst, the next probe just past it dates record C exactly. The probe times alone
    would need a round per factor of 5 of the bracket (about five more for a burst 20 minutes old)."""
    now = 1_700_000_000.0
    burst_ms = int((now - 1234.5) * 1000)
    tp = ("adt", 0)
    got, rounds = _search({tp: [burst_ms] * 6 + [burst_ms + 3] * 4}, {tp: 5}, now)
    assert got[tp] == (burst_ms / 1000, (burst_ms + 1) / 1000)
    assert rounds <= 3, rounds  # two rounds back (1..512 s, then 4096 s ...), one past the burst


def test_a_steady_stream_is_dated_where_the_offsets_put_the_record() -> None:
    """A partition written at an even pace: the offsets of the two records around the bracket say where
    record C is, and the probes either side of that guess close the bracket in one round."""
    now = 1_700_000_000.0
    tp = ("oru", 3)
    times = {tp: [int((now - 40_000 + 0.37 * i) * 1000) for i in range(100_000)]}  # 2.7 records a second
    _, rounds = _search(times, {tp: 31_337}, now)  # _search checks the bracket holds record 31,337
    assert rounds <= 4, rounds


class UnorderedTimes(FakeTimes):
    """Record times out of offset order (producer create times): the first offset at or after T by scan."""

    def offsets_for_times(self, queries: list[dict[int, dict[Any, int]]],
                          ) -> tuple[list[dict[Any, tuple[int, int] | None]], dict[int, str]]:
        self.rounds += 1
        return [{tp: next(((i, t) for i, t in enumerate(self.times[tp]) if t >= at), None)
                 for specs in q.values() for tp, at in specs.items()} for q in queries], {}


def test_uneven_timestamps_never_make_an_inverted_bracket() -> None:
    """Producer (create) times out of order inside the log: whatever the search returns is a bracket whose
    low end is before its high end, at most a second wide, and nothing raises."""
    now = 1_700_000_000.0
    base = int((now - 600) * 1000)
    times = {("fhir", k): [base + (i * 7919 * (k + 1)) % 50_000 for i in range(200)] for k in range(20)}
    got = append_times(UnorderedTimes(times), dict.fromkeys(times, 120), dict.fromkeys(times, 1),  # type: ignore[arg-type]
                       now)
    assert got, "no partition bracketed at all"
    for lo, hi in got.values():
        assert lo < hi <= lo + 1.0
