"""When was the first unconsumed record appended? Found from metadata alone, never from a payload.

ListOffsets by timestamp answers "the earliest offset whose record time is at or after T", and with it
that record's own time. For a group committed at offset C (the next record it would read), record C was
appended at some time t_C; with record times in offset order (Kafka's time index assumes the same):

- an answer O <= C at time tau proves t_C >= tau (the bracket's low end moves up to a *record's* time,
  not just to the probe's), and O == C dates record C exactly;
- an answer O > C (or none) proves t_C < T.

So probing T brackets t_C: first backwards from now at 1, 8, 64, 512 s, ... until some answer is <= C,
then inside the bracket until it is `resolution_s` wide. Each round sends PROBES times per partition,
pipelined, one request per leader and probe, for every partition searched at once. Inside the bracket the
probes go where the records are: just past the low end's record (records appended in one burst are dated
by the next round), where the offsets of the two end records put record C if they were appended at an
even pace (a steady stream is dated by the next round), and evenly spaced for everything else (a factor
of PROBES + 1 narrower per round).

This is what turns a time lag that the offset history can only bound from below ("at least 33 s": the
group stopped before the history began) into the real figure.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from brokerscale.kafka import TP, KafkaAdmin

PROBES = 4  # probes of one partition per round: one request each, pipelined (kafka.fastpath.IN_FLIGHT)
BACK_FACTOR = 8  # backwards phase: each probe this many times further back than the last
MAX_BACK_S = 2 ** 36  # further back than any Kafka record


@dataclass
class _Search:
    committed: int
    lo_ms: int | None  # record `committed` was appended at or after lo
    hi_ms: int  # ... and before hi
    lo_rec: tuple[int, int] | None = None  # (offset <= committed, its time == lo_ms), when an answer gave one
    hi_rec: tuple[int, int] | None = None  # (offset > committed, its time), the nearest one an answer gave
    next_exp: int = 0  # backwards phase: the next probe is BACK_FACTOR^next_exp s before now


def _inside(s: _Search, res_ms: int) -> list[int]:
    """Probe times strictly inside the bracket, the most informative first."""
    assert s.lo_ms is not None
    lo, hi = s.lo_ms, s.hi_ms
    want: list[int] = []
    if s.lo_rec is not None:
        want.append(lo + 1)  # the first record after lo's: is it already past C (a burst at lo)?
        if s.hi_rec is not None and s.hi_rec[0] > s.lo_rec[0] and s.hi_rec[1] > lo:
            (o_lo, t_lo), (o_hi, t_hi) = s.lo_rec, s.hi_rec
            guess = t_lo + (t_hi - t_lo) * (s.committed - o_lo) // (o_hi - o_lo)
            want += [guess - res_ms // 2, guess + res_ms - res_ms // 2]
    width = hi - lo
    spare = PROBES - len(want)
    want += [lo + width * (i + 1) // (spare + 1) for i in range(spare)]
    out: list[int] = []
    for t in want:
        if lo < t < hi and t not in out:
            out.append(t)
    return sorted(out[:PROBES])


def _probe_times(s: _Search, now_ms: int, res_ms: int) -> list[int]:
    if s.lo_ms is None:
        if BACK_FACTOR ** s.next_exp > MAX_BACK_S:
            return []
        return [max(0, now_ms - BACK_FACTOR ** e * 1000) for e in range(s.next_exp, s.next_exp + PROBES)]
    if s.hi_ms - s.lo_ms <= res_ms:
        return []
    return _inside(s, res_ms)


def _learn(s: _Search, times: list[int], answers: list[tuple[int, int] | None]) -> None:
    """Narrow the bracket with one round's answers (offset and record time, or None: no record that late)."""
    for t, ans in sorted(zip(times, answers, strict=True)):
        if ans is not None and ans[0] <= s.committed:
            off, rec_ms = ans
            # the record's own time bounds t_C from below, when it is consistent with what is known
            low = rec_ms if t <= rec_ms < s.hi_ms else t
            if s.lo_ms is None or low > s.lo_ms:
                s.lo_ms = low
                s.lo_rec = (off, rec_ms) if low == rec_ms else None
                if off == s.committed and low == rec_ms:
                    s.hi_ms = min(s.hi_ms, rec_ms + 1)  # record C itself: dated to the millisecond
        elif s.lo_ms is None or t > s.lo_ms:
            s.hi_ms = min(s.hi_ms, t)
            if ans is not None and ans[1] >= t and (s.hi_rec is None or ans[0] < s.hi_rec[0]):
                s.hi_rec = ans


def append_times(admin: KafkaAdmin, wanted: dict[TP, int], leaders: dict[TP, int], now_s: float, *,
                 resolution_s: float = 1.0, budget_s: float | None = None) -> dict[TP, tuple[float, float]]:
    """For each partition -> committed offset C, the (earliest, latest) Unix time at which record C can
    have been appended, at most `resolution_s` apart; no new round starts after `budget_s`. Partitions
    whose leader is unknown or silent, whose timestamps allow no bracket (times from the future), or that
    the budget did not reach are left out."""
    now_ms = int(now_s * 1000)
    res_ms = max(1, int(resolution_s * 1000))
    searches = {tp: _Search(c, None, now_ms) for tp, c in wanted.items() if tp in leaders}
    stop_at = None if budget_s is None else time.monotonic() + budget_s
    for _ in range(64):
        if stop_at is not None and time.monotonic() > stop_at:
            break  # what is not bracketed yet stays a lower bound

        plans = {tp: _probe_times(s, now_ms, res_ms) for tp, s in searches.items()}
        plans = {tp: ts for tp, ts in plans.items() if ts}
        if not plans:
            break
        queries: list[dict[int, dict[TP, int]]] = [defaultdict(dict) for _ in range(PROBES)]
        for tp, times in plans.items():
            for i, t in enumerate(times):
                queries[i][leaders[tp]][tp] = t
        found, silent = admin.offsets_for_times([dict(q) for q in queries if q])
        for tp, times in plans.items():
            s = searches[tp]
            if leaders[tp] in silent:
                del searches[tp]
                continue
            _learn(s, times, [found[i].get(tp) for i in range(len(times))])
            if s.lo_ms is None:
                s.next_exp += PROBES
                if min(times) == 0:  # even time 0 is after record C: its timestamp is from the future
                    s.next_exp = 64
    return {tp: (s.lo_ms / 1000, s.hi_ms / 1000) for tp, s in searches.items()
            if s.lo_ms is not None and s.hi_ms - s.lo_ms <= res_ms}
