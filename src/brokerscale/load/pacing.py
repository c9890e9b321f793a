"""Rate control: how many messages should have been sent by a given moment.

Pure arithmetic (the caller passes elapsed time), so pacing is testable without a clock. The
producer sends in chunks up to this budget, then sleeps: per-message sleeps cost more CPU than the
sends themselves at thousands of messages per second.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pacer:
    rate: float  # messages per second; 0 = as fast as possible
    limit: int | None = None  # stop after this many messages

    @property
    def unthrottled(self) -> bool:
        return self.rate <= 0

    def budget(self, elapsed: float) -> int:
        """Messages allowed in total by `elapsed` seconds after the start."""
        allowed = 2**62 if self.unthrottled else int(self.rate * max(0.0, elapsed)) + 1
        return allowed if self.limit is None else min(allowed, self.limit)

    def run_bounds(self, duration: float | None) -> tuple[int | None, float | None]:
        """(message limit, time cutoff) of a run of `duration` seconds.

        A paced run sends exactly rate x duration messages: if the process was starved of CPU and fell
        behind, it may finish them within a grace period (10%, at least 1 s) rather than silently sending
        fewer — the report's rate (acks / elapsed time) then shows the lateness honestly. An unthrottled
        run simply stops at `duration`.
        """
        if duration is None:
            return self.limit, None
        if self.unthrottled:
            return self.limit, duration
        total = round(self.rate * duration)
        limit = total if self.limit is None else min(self.limit, total)
        return limit, duration + max(1.0, 0.1 * duration)

    def wait(self, sent: int, elapsed: float) -> float:
        """Seconds until the next message is due (0 if one is due now)."""
        if self.unthrottled or sent < self.budget(elapsed):
            return 0.0
        return max(0.0, sent / self.rate - elapsed)
