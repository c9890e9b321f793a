"""Demo step: add a fourth broker, propose the cheapest add-brokers plan, execute it with a throttle."""

from __future__ import annotations

import time
from typing import Any

from brokerscale.balance.execution import moves_for, run_moves
from brokerscale.balance.kafka_ops import KafkaOps
from brokerscale.balance.live import model_from_admin
from brokerscale.balance.optimizer import optimize
from brokerscale.balance.proposal import file_text, render, summary
from brokerscale.balance.reassignment_file import read_plan
from brokerscale.balance.state import ExecState, plan_id
from brokerscale.connect import ConnectionProfile
from brokerscale.units import format_bytes, format_duration


def demo_step(ctx: Any) -> None:
    con = ctx.console
    with con.status("starting a fourth broker…"):
        new = ctx.cluster.add_broker()
    bootstrap = ctx.cluster.bootstrap
    con.print(f"broker {new} joined the cluster, empty")
    ops = KafkaOps(ConnectionProfile(bootstrap).admin())
    try:
        model = model_from_admin(ops.admin)
        t0 = time.perf_counter()
        proposal = optimize(model, "add-brokers", [new])
        con.print(f"proposal for {len(model)} partitions in {format_duration(time.perf_counter() - t0)}:")
        render(proposal, con)
        if proposal.targets.strict_racks:
            rack = model.brokers[new].rack
            con.print(f"[dim]one copy of every partition lives in each rack, so broker {new} (rack {rack}) takes over "
                      f"part of rack {rack}'s copies; the other racks need no move[/]")
        # the same path as `propose -o` then `execute --proposal`: the file is the plan, sizes included
        plan = ctx.workdir / "rebalance-plan.json"
        plan.write_text(file_text(proposal))
        moves = moves_for(ops, read_plan(plan))
        if not moves:
            con.print("nothing to move")
            return
        state = ExecState(plan_id(moves), bootstrap, moves, throttle_bytes_s=20_000_000, max_per_broker=5)
        t0 = time.perf_counter()
        with con.status(f"executing {len(moves)} reassignments, throttle 20 MB/s per broker…"):
            run_moves(ops, state, ctx.workdir / "rebalance-state.json", poll_s=0.5, stall_s=120, actor="demo")
        now = ops.assignments(sorted({m.topic for m in moves}))
        as_planned = sum(1 for m in moves if now.get((m.topic, m.partition)) == m.target)
        left = ops.throttle_configs(sorted(model.brokers), sorted({m.topic for m in moves}))
        s = summary(proposal)
        con.print(f"executed in {format_duration(time.perf_counter() - t0)}: {as_planned}/{len(moves)} partitions "
                  f"as proposed, {format_bytes(s['bytes_moved'])} moved "
                  f"(lower bound {format_bytes(s['lower_bound_bytes'])}), throttles left: {len(left)}; "
                  f"proposal file (Kafka's reassignment format, sizes included): {plan}")
    finally:
        ops.close()
