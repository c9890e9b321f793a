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
from brokerscale.errors import OperationFailed
from brokerscale.units import format_duration


def wait_for(read: Callable[[], CloudCluster], done: Callable[[CloudCluster], bool],
             describe: Callable[[CloudCluster], str], *, what: str, timeout_s: float, poll_s: float,
             console: Console, sleep: Callable[[float], None] = time.sleep,
             clock: Callable[[], float] = time.monotonic) -> CloudCluster:
    """Poll `read()` every `poll_s` until `done(cluster)`; raise OperationFailed on FAILED or timeout."""
    started = clock()
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[state]}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        cluster = read()
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
            cluster = read()
