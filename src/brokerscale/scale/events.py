"""Scaling events from the audit log, and the scaling guide's statistics over them."""

from __future__ import annotations

from typing import Any

from brokerscale.store.store import Store


def scaling_events(store: Store, since: float, target: str | None = None) -> list[dict[str, Any]]:
    """Oldest first: one dict per scale.up / scale.down the controller recorded (applied or not)."""
    out = []
    for r in store.audit_records("scale.", limit=10_000):
        if r["ts"] < since or (target is not None and r["target"] != target):
            continue
        intent = r["intent"] or {}
        after = r["after"] or {}
        dur = after.get("in_effect_after_s")
        if dur is None and r["finished_ts"] is not None and r["result"] == "ok":
            dur = r["finished_ts"] - r["ts"]
        out.append({"ts": r["ts"], "target": r["target"], "direction": intent.get("direction", r["action"][6:]),
                    "from": intent.get("from"), "to": intent.get("to"), "trigger": intent.get("trigger", ""),
                    "reason": intent.get("reason", ""), "duration_s": dur, "result": r["result"],
                    "error": r["error"], "change_id": r["change_id"]})
    return sorted(out, key=lambda e: e["ts"])


def event_stats(events: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """min, max and time-weighted average units from the first event to now; number of events that took
    effect (the scaling guide counts changes of the CKU count)."""
    done = [e for e in events if e["result"] == "ok" and e["to"] is not None]
    if not done:
        return {"events": 0, "min_units": None, "max_units": None, "avg_units": None}
    levels = [done[0]["from"]] + [e["to"] for e in done]
    total = weight = 0.0
    for e, nxt in zip(done, [*done[1:], None], strict=True):
        end = nxt["ts"] if nxt else now
        span = max(0.0, end - e["ts"])
        total += e["to"] * span
        weight += span
    avg = total / weight if weight else float(done[-1]["to"])
    return {"events": len(done), "min_units": min(levels), "max_units": max(levels), "avg_units": round(avg, 3)}
