"""Rebalance: move the least data that brings a cluster within its goals, then execute it safely.

`model` (cluster model from a file or a live cluster), `goals` (thresholds, targets, lower bound),
`optimizer` (pure, deterministic), `proposal` (Kafka reassignment JSON + summary), `executor`
(batched, throttled, resumable), `cli` (`brokerscale rebalance ...`).
"""
