"""The scaling checklist's "update documentation": after an applied change, the deployment files are
regenerated for the new size (as `plan WORKLOAD --emit KIND --out DIR` would write them) and their paths
go into the change's audit entry, so the Terraform / Strimzi files in review match the running cluster.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from brokerscale.errors import BadInput


def emitter(workload: Path, kinds: list[str], out: Path, unit: str) -> Callable[[int], list[str]]:
    """Check the workload and kinds now (bad input stops the controller before it acts) and return what
    writes the files for a given size."""
    from brokerscale.plan.cli import _EMITTERS, Emit, plan_file, write_files

    known = [e.value for e in Emit if e in _EMITTERS]
    for k in kinds:
        if k not in known:
            raise BadInput(f"--emit: {k!r} is not one of {', '.join(known)}")
    wl, plan = plan_file(workload)
    chosen = [Emit(k) for k in dict.fromkeys(kinds)]
    for kind in chosen:  # refusals (e.g. private networking on a tier without it) show before anything runs
        _EMITTERS[kind](plan, wl)

    def emit(units: int) -> list[str]:
        if unit == "cku":
            sized = dataclasses.replace(plan, confluent=dataclasses.replace(plan.confluent, ckus=units))
        else:
            sized = dataclasses.replace(plan, self_managed=dataclasses.replace(plan.self_managed, brokers=units))
        written: list[str] = []
        for kind in chosen:
            written += [str(p) for p in write_files(out / kind.value, _EMITTERS[kind](sized, wl))]
        return written

    return emit
