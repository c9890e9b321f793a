"""Translating a consumer group's committed source offset to the target, for failover (pure).

MirrorMaker's own checkpoints translate against an in-memory store of offset syncs that thins out
the further back it looks (it keeps syncs at exponentially growing distances from the newest), and on
a restart it starts with only the newest syncs. A group that stopped consuming long before the failure
is then translated to a sync thousands of records before its commit, and re-reads all of them on the
target. The offset-syncs topic itself holds every sync MirrorMaker wrote (one at least every
`offset.lag.max` records), so translating against it directly is as tight as the syncs allow:

- the newest sync (U, D) with U <= committed C gives a safe position: D, or D + 1 when C > U
  (record U is at D, so everything from U + 1 on is at D + 1 or later) — MirrorMaker's rule;
- when the next sync (U2, D2) in the topic shows the stretch between them was copied one to one
  (U2 - U == D2 - D: no upstream gap from compaction or transaction markers, no downstream
  re-copies from a restart), the records U..U2 sit at D..D2 in the same order, so C is exactly at
  D + (C - U);
- the result never passes what was replicated (the target's log-end offset), and never falls behind
  MirrorMaker's own checkpoint of the same commit (also safe, possibly tighter when syncs are gone).

"Safe" means the group never skips a record it had not processed on the source; what it re-reads
(duplicates) is at most the distance to the sync used, zero when the exact case applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from brokerscale.dr.positions import OffsetSync


@dataclass(frozen=True)
class Translation:
    offset: int
    how: str  # exact | sync | checkpoint | end | none


def translate(committed: int, syncs: Sequence[OffsetSync], target_end: int | None,
              checkpoint: tuple[int, int] | None = None) -> Translation:
    """The target offset a group that committed `committed` on the source resumes from.

    `syncs`: one partition's offset syncs in the order MirrorMaker wrote them; `target_end`: the
    mirrored partition's log-end offset (None: unknown); `checkpoint`: MirrorMaker's newest
    (upstream, downstream) checkpoint of this group and partition, if any.
    """
    newest = max((s.upstream for s in syncs if s.upstream <= committed), default=None)
    best: Translation | None = None
    for i, s in enumerate(syncs):
        if s.upstream != newest:
            continue
        nxt = syncs[i + 1] if i + 1 < len(syncs) else None
        if s.upstream == committed:
            cand = Translation(s.downstream, "exact")
        elif (nxt is not None and nxt.upstream >= committed
              and nxt.upstream - s.upstream == nxt.downstream - s.downstream):
            cand = Translation(s.downstream + committed - s.upstream, "exact")
        else:
            cand = Translation(s.downstream + 1, "sync")
        # The same upstream offset synced twice (a restart copied it again): the lower position is safe.
        if best is None or cand.offset < best.offset:
            best = cand
    if checkpoint is not None and checkpoint[0] == committed and (best is None or checkpoint[1] > best.offset):
        best = Translation(checkpoint[1], "checkpoint")
    if best is None:
        return Translation(0, "none")
    if target_end is not None and best.offset > target_end:
        return Translation(target_end, "end")
    return best
