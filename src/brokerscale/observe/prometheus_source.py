"""A Prometheus server's HTTP API as a metric source (by URL), for clusters whose JMX exporters are
scraped by Prometheus rather than reachable from here.

The same raw series the JMX exporter exposes are fetched with one instant query at the start and one
at the end of the window, turned into the same `Scrape` objects, and go through the same rate code.
A series' broker is its `broker_id`/`node_id` label, else the trailing number of `pod`/`instance`
(Strimzi pods are `<cluster>-kafka-<id>`), else the order of instances.
"""

from __future__ import annotations

import re
from collections import defaultdict

import httpx

from brokerscale.errors import Unreachable
from brokerscale.observe.jmx import WANTED_PREFIXES, Scrape

_QUERY = "{__name__=~\"" + "|".join(re.escape(p) + ".*" for p in WANTED_PREFIXES) + "\"}"


def _broker_key(labels: dict[str, str]) -> str:
    for k in ("broker_id", "node_id", "pod", "instance"):
        if k in labels:
            return labels[k]
    return ""


def _broker_id(key: str, order: list[str]) -> int:
    if key.isdigit():
        return int(key)
    m = re.search(r"(\d+)(?::\d+)?$", key)
    if m and not key.count(":"):
        return int(m.group(1))
    return order.index(key) + 1


def query_scrapes(base_url: str, at: float, *, client: httpx.Client | None = None,
                  timeout_s: float = 10.0) -> list[Scrape]:
    """Every broker's wanted series at time `at`, as one Scrape per broker."""
    url = base_url.rstrip("/") + "/api/v1/query"
    try:
        resp = (client or httpx).get(url, params={"query": _QUERY, "time": f"{at:.3f}"}, timeout=timeout_s)
        resp.raise_for_status()
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unreachable(f"cannot query Prometheus at {base_url}: {type(exc).__name__}") from None
    if body.get("status") != "success":
        raise Unreachable(f"Prometheus at {base_url} answered {body.get('errorType', 'an error')}: "
                          f"{body.get('error', '')}")
    by_key: dict[str, list[tuple[str, dict[str, str], float]]] = defaultdict(list)
    for item in body.get("data", {}).get("result", []):
        labels = dict(item.get("metric", {}))
        name = labels.pop("__name__", "")
        key = _broker_key(labels)
        for k in ("broker_id", "node_id", "pod", "instance", "job", "namespace", "container", "service",
                  "endpoint", "strimzi_io_cluster", "strimzi_io_kind", "strimzi_io_name"):
            labels.pop(k, None)
        by_key[key].append((name, labels, float(item["value"][1])))
    order = sorted(by_key)
    scrapes = []
    for key, rows in by_key.items():
        s = Scrape(_broker_id(key, order), at)
        for name, labels, value in rows:
            s.values.setdefault(name, {})[tuple(sorted(labels.items()))] = value
        scrapes.append(s)
    return sorted(scrapes, key=lambda s: s.broker_id)
