"""When was the first unconsumed record appended? Found from metadata alone, never from a payload.

ListOffsets by timestamp answers "the earliest offset whose record time is at or after T". For a group
committed at offset C (the next record it would read), record C was appended at some time t_C with
offset(T) <= C for T <= t_C and offset(T) > C (or none) for T > t_C. So probing T brackets t_C: first
backwards from now at 1, 2, 4, ... s until offset(T) <= C, then by cutting the bracket until it is
`resolution_s` wide. Each round sends PROBES times per partition, pipelined, one request per leader and
probe, for every partition searched at once: a stopped group's lag is found in a handful of round trips
(one per 16x further back, then one per factor of PROBES + 1 of narrowing: about seven for an hour).

This is what turns a time lag that the offset history can only bound from below ("at least 33 s": the
group stopped before the history began) into the real figure.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from brokerscale.kafka import TP, KafkaAdmin

PROBES = 4  # probes of one partition per round: one request each, pipelined (kafka.fastpath.IN_FLIGHT)
MAX_BACK_S = 2 ** 36  # further back than any Kafka record


@dataclass
class _Search:
    committed: int
    lo_ms: int | None  # offset(lo) <= committed: record `committed` was appended at or after lo
    hi_ms: int  # offset(hi) > committed (or no record): appended before hi
    next_exp: int = 0  # backwards phase: the next probe is 2^next_exp s before now


def _probe_times(s: _Search, now_ms: int, res_ms: int) -> list[int]:
    if s.lo_ms is None:
        if 2 ** s.next_exp > MAX_BACK_S:
            return []
        return [max(0, now_ms - 2 ** e * 1000) for e in range(s.next_exp, s.next_exp + PROBES)]
    width = s.hi_ms - s.lo_ms
    if width <= res_ms:
        return []
    return sorted({s.lo_ms + width * (i + 1) // (PROBES + 1) for i in range(PROBES)} - {s.lo_ms, s.hi_ms})


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
            answers = [found[i].get(tp) for i in range(len(times))]
            before = [t for t, off in zip(times, answers, strict=True) if off is not None and off <= s.committed]
            after = [t for t, off in zip(times, answers, strict=True) if off is None or off > s.committed]
            if before:
                s.lo_ms = max(before) if s.lo_ms is None else max(s.lo_ms, *before)
            later = [t for t in after if s.lo_ms is None or t > s.lo_ms]
            if later:
                s.hi_ms = min(s.hi_ms, *later)
            if s.lo_ms is None:
                s.next_exp += PROBES
                if min(times) == 0:  # even time 0 is after record C: its timestamp is from the future
                    s.next_exp = 64
    return {tp: (s.lo_ms / 1000, s.hi_ms / 1000) for tp, s in searches.items()
            if s.lo_ms is not None and s.hi_ms - s.lo_ms <= res_ms}
