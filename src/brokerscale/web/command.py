"""`brokerscale web`: serve the dashboard (one sampling loop per cluster, shared by every viewer)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

import typer

from brokerscale.cli_common import BootstrapOpt, CommandConfigOpt
from brokerscale.console import err
from brokerscale.errors import BadInput
from brokerscale.observe.collect import Observer
from brokerscale.observe.options import CapacityOpt, CkusOpt, LimitsOpt, RulesOpt, build_observer, interval_seconds
from brokerscale.observe.rules import load_rules
from brokerscale.web.auth import check_listen, is_loopback


def _same(observer: Observer) -> Observer:
    return observer


def web_command(
    cluster: Annotated[list[str] | None, typer.Option(
        "--cluster", "-c", metavar="NAME", show_default=False,
        help="A cluster to show (repeatable): a name from brokerscale.yaml or a local dev cluster. "
             "Default: the running local dev cluster.")] = None,
    bootstrap: BootstrapOpt = None, command_config: CommandConfigOpt = None,
    capacity: CapacityOpt = None, ckus: CkusOpt = None, limits: LimitsOpt = None, rules: RulesOpt = None,
    interval: Annotated[str, typer.Option("--interval", "-i", metavar="DURATION",
                                          help="How often each cluster is observed (and pages refresh).")] = "10s",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8086,
    listen: Annotated[str, typer.Option("--listen", metavar="ADDRESS",
                                        help="Address to listen on. Anything but loopback needs --token-file.")]
    = "127.0.0.1",
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", metavar="FILE", show_default=False,
        help="File holding the bearer token viewers must present (Authorization: Bearer …, or the sign-in form).")]
    = None,
    disk: Annotated[str | None, typer.Option("--disk", metavar="SIZE", show_default=False,
                                             help="Storage page: total log disk (e.g. 48TB).")] = None,
    tier: Annotated[str | None, typer.Option("--tier", metavar="NAME", show_default=False,
                                             help="Storage page: Confluent Cloud tier whose limit applies.")] = None,
    no_observe: Annotated[bool, typer.Option(
        "--no-observe", help="Do not contact the clusters: show the store's history and audit log only.")] = False,
) -> None:
    """Serve the web dashboard: load against capacity, timeline, consumer lag, storage forecast,
    rebalance progress and the audit log; the JSON API behind every page is under /api/ (see /api/docs).

    Every asset ships inside brokerscale: no CDN, no external fonts, so it works on an air-gapped network.
    It listens on 127.0.0.1 unless told otherwise; any other address requires --token-file.

    Examples:

      brokerscale web                                            # the local dev cluster, http://127.0.0.1:8086/

      brokerscale web --cluster prod --cluster dr --ckus 4

      brokerscale web --capacity brokers.yaml --listen 0.0.0.0 --token-file /etc/brokerscale/web.token

      curl -H "Authorization: Bearer $(cat web.token)" http://host:8086/api/overview
    """
    import uvicorn

    from brokerscale.cli_common import profile
    from brokerscale.store import open_store
    from brokerscale.web.app import WebConfig, create_app
    from brokerscale.web.live import ClusterLoop

    token = check_listen(listen, token_file)
    secs = interval_seconds(interval)
    if secs < 1:
        raise BadInput(f"--interval: {interval!r} is too short for a dashboard (at least 1s)")
    rule_set = load_rules(rules)
    names: list[str | None] = list(cluster) if cluster else [None]
    if bootstrap is not None and cluster and len(cluster) > 1:
        raise BadInput("--bootstrap: names one cluster; use brokerscale.yaml entries with --cluster for several")
    observers = [build_observer(bootstrap, command_config, c, capacity=capacity, ckus=ckus, limits=limits,
                                rules=rules) for c in names] if not no_observe else []
    labels = [o.cluster for o in observers] if observers else \
        [profile(bootstrap, command_config, c).label for c in names]
    if len(set(labels)) != len(labels):
        raise BadInput("--cluster: the same cluster is named twice")
    if disk is not None or tier is not None:
        from brokerscale.forecast.cli import storage_limit

        storage_limit(tier, disk, limits or "design-doc")  # a bad --disk/--tier is refused now, not per request
    store = open_store()
    loops = {o.cluster: ClusterLoop(functools.partial(_same, o), interval=secs, label=o.cluster) for o in observers}
    cfg = WebConfig(clusters=labels, rules=rule_set, store=store, loops=loops, token=token, refresh_s=secs,
                    disk=disk, tier=tier, limits=limits or "design-doc")
    app = create_app(cfg)
    for loop in loops.values():
        loop.start()
    host = f"[{listen}]" if ":" in listen else listen
    err.print(f"brokerscale web: http://{host}:{port}/ — {len(labels)} cluster(s): {', '.join(labels)}"
              + ("" if is_loopback(listen) else " (bearer token required)") + "; Ctrl-C stops")
    try:
        uvicorn.run(app, host=listen, port=port, log_level="warning", access_log=False)
    finally:
        for loop in loops.values():
            loop.stop()
        store.close()
