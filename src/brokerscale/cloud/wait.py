"""Wait for a Confluent Cloud change to finish, with a progress display and a timeout.

Confluent answers a PATCH at once and does the work afterwards: a resize is done when
`status.cku == N`, an upgrade when the phase is PROVISIONED on the new type. `sleep` and `clock` are
injectable so tests can drive the loop without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from brokerscale.cloud.cmk import CloudCluster
from brokerscale.cloud.http import CloudAPIError
from brokerscale.errors import OperationFailed, Unreachable
from brokerscale.units import format_duration


def wait_for(read: Callable[[], CloudCluster], done: Callable[[CloudCluster], bool],
             describe: Callable[[CloudCluster], str], *, what: str, timeout_s: float, poll_s: float,
             console: Console, first: CloudCluster | None = None, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> CloudCluster:
    """Poll `read()` every `poll_s` until `done(cluster)`; raise OperationFailed on FAILED or timeout.

    Like the scaling guide's monitorClusterUpgrade, a read that fails for a server-side reason (5xx, rate limit,
    network) after the client's own retries does not end the wait: the change is Confluent's to finish,
    so the next poll tries again until the timeout. A 4xx (the cluster is gone, the key revoked) does.
    `first` is the cluster as the change request returned it, so the wait starts without a read.
    """
    started = clock()
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[state]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        cluster = first if first is not None else read()
        task = progress.add_task(what, state=describe(cluster))
        while True:
            progress.update(task, state=describe(cluster))
            if done(cluster):
                progress.update(task, description=f"{what}: done")
                return cluster
            if cluster.phase == "FAILED":
                raise OperationFailed(f"{cluster.id}: Confluent reports phase FAILED during {what}")
            if clock() - started >= timeout_s:
                raise OperationFailed(
                    f"{cluster.id}: {what} not finished after {format_duration(timeout_s)} "
                    f"({describe(cluster)}); Confluent keeps working on it — check with "
                    "`brokerscale cloud cluster show`")
            sleep(poll_s)
            try:
                cluster = read()
            except CloudAPIError as exc:
                if exc.status < 500 and exc.status != 429:
                    raise
                progress.update(task, state=f"read failed ({exc.status}); polling on")
            except Unreachable:
                progress.update(task, state="Confluent unreachable; polling on")
