"""What the broker ids given to add-brokers / remove-brokers must be, checked before anything is proposed.

add-brokers means "spread onto these new, empty brokers": naming a broker that already holds replicas
would label it "added" and balance around a wrong picture, so it is refused with the way out (--mode
full moves replicas onto every broker). remove-brokers must name brokers the cluster knows.
"""

from __future__ import annotations

from brokerscale.balance.model import ClusterModel
from brokerscale.errors import BadInput


def check_named_brokers(model: ClusterModel, mode: str, brokers: list[int]) -> None:
    if mode == "remove-brokers":
        unknown = [b for b in brokers if b not in model.brokers]
        if unknown:
            known = ",".join(str(b) for b in sorted(model.brokers))
            raise BadInput(f"--brokers: broker {unknown[0]} does not exist (the cluster has {known}); "
                           "remove-brokers drains existing brokers")
    if mode != "add-brokers":
        return
    held: dict[int, int] = {}
    for reps in model.replicas:
        for b in reps:
            if b in brokers:
                held[b] = held.get(b, 0) + 1
    if held:
        b, n = sorted(held.items())[0]
        raise BadInput(f"--brokers: broker {b} already holds {n} replica{'s' if n != 1 else ''}; add-brokers "
                       "only moves replicas onto new, empty brokers (use --mode full to rebalance across "
                       "every broker, this one included)")
