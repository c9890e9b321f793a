"""A Prometheus server's HTTP API as a metric source (by URL), for clusters whose JMX exporters are
scraped by Prometheus rather than reachable from here.

The same raw series the JMX exporter exposes are fetched with one instant query at the start and one
at the end of the window, turned into the same `Scrape` objects, and go through the same rate code.

Which broker a series belongs to must be exact: a figure put on the wrong broker sends an operator to
drain the wrong machine. A series is mapped, in this order, by
1. the label named by `--prometheus-broker-label`, else `broker_id` or `node_id` (a number);
2. a Strimzi `pod` label (`<cluster>-kafka-<id>`, `<cluster>-<pool>-<id>`: the ordinal is the node id);
3. its `instance` (`host:port`) equal to the exporter address known for a broker (`--metrics-url`,
   or a local dev cluster's);
4. the host of its `instance` equal to exactly one broker's advertised host, when every broker has
   its own host.
Series that none of these map are never guessed (sorted ports are not broker ids): their load counts
in the cluster totals only, and the snapshot says why and how to add the label.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from brokerscale.errors import MetricsUnreachable
from brokerscale.observe.jmx import WANTED_PREFIXES, Scrape

_QUERY = "{__name__=~\"" + "|".join(re.escape(p) + ".*" for p in WANTED_PREFIXES) + "\"}"

# Labels that say where a series was scraped, not what it measures: dropped before the rate code.
_TARGET_LABELS = ("broker_id", "node_id", "pod", "instance", "job", "namespace", "container", "service",
                  "endpoint", "strimzi_io_cluster", "strimzi_io_kind", "strimzi_io_name",
                  "strimzi_io_pool_name", "node_ip", "node_name")
_POD_ORDINAL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?-(\d+)$")

HOW_TO_LABEL = ("give each broker's scrape target a broker_id label (static_configs `labels: {broker_id: "
                "\"1\"}`, or relabel_configs), or name the label with --prometheus-broker-label")


@dataclass(frozen=True)
class BrokerMapping:
    """What is known about the brokers, to recognise their series in Prometheus."""

    broker_label: str | None = None
    exporters: dict[int, str] = field(default_factory=dict)  # broker id -> exporter URL or host:port
    hosts: dict[int, str] = field(default_factory=dict)  # broker id -> advertised host

    def _by_address(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for bid, url in self.exporters.items():
            for addr in _addresses(url):
                out[addr] = bid
        return out

    def _by_host(self) -> dict[str, int]:
        hosts = [h.lower() for h in self.hosts.values()]
        if len(set(hosts)) != len(hosts):  # brokers share a host (one machine): a host names none of them
            return {}
        return {h.lower(): bid for bid, h in self.hosts.items()}

    def broker_of(self, labels: dict[str, str]) -> int | None:
        """The broker id of a series, or None when nothing identifies it exactly."""
        if self.broker_label is not None:
            return _number(labels.get(self.broker_label, ""))
        for key in ("broker_id", "node_id"):
            if key in labels:
                return _number(labels[key])
        pod = labels.get("pod")
        if pod:
            m = _POD_ORDINAL.match(pod)
            if m:
                return int(m.group(2))
        instance = labels.get("instance")
        if instance:
            found = self._by_address().get(instance.lower())
            if found is not None:
                return found
            host = instance.rsplit(":", 1)[0].strip("[]").lower() if ":" in instance else instance.lower()
            return self._by_host().get(host)
        return None


@dataclass
class PrometheusRound:
    """One instant query: the series mapped to brokers, and those that could not be (keyed by target)."""

    at: float
    brokers: list[Scrape]
    unmapped: dict[str, Scrape]

    def note(self) -> str | None:
        if not self.unmapped:
            return None
        targets = ", ".join(sorted(self.unmapped)[:4]) + (" …" if len(self.unmapped) > 4 else "")
        return (f"per-broker figures from Prometheus are missing for {len(self.unmapped)} scrape target(s) "
                f"({targets}): nothing says which broker they are, so they count in the cluster totals only; "
                + HOW_TO_LABEL)


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _addresses(url: str) -> list[str]:
    """`http://127.0.0.1:7071/metrics` -> the spellings an `instance` label may use for it."""
    hostport = urlsplit(url).netloc if "://" in url else url
    hostport = hostport.lower()
    out = [hostport]
    host, _, port = hostport.rpartition(":")
    if host in ("127.0.0.1", "localhost"):
        out += [f"127.0.0.1:{port}", f"localhost:{port}"]
    return out


def _target_key(labels: dict[str, str]) -> str:
    for k in ("pod", "instance"):
        if k in labels:
            return labels[k]
    return labels.get("job", "")


def query_round(base_url: str, at: float, mapping: BrokerMapping, *, client: httpx.Client | None = None,
                timeout_s: float = 10.0) -> PrometheusRound:
    """Every wanted series at time `at`: one Scrape per broker, plus the targets no label identifies."""
    url = base_url.rstrip("/") + "/api/v1/query"
    try:
        resp = (client or httpx).get(url, params={"query": _QUERY, "time": f"{at:.3f}"}, timeout=timeout_s)
        resp.raise_for_status()
        body = resp.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise MetricsUnreachable(f"cannot query Prometheus at {base_url}: {type(exc).__name__}") from None
    if body.get("status") != "success":
        raise MetricsUnreachable(f"Prometheus at {base_url} answered {body.get('errorType', 'an error')}: "
                                 f"{body.get('error', '')}")
    mapped: dict[int, Scrape] = {}
    unmapped: dict[str, Scrape] = {}
    for item in body.get("data", {}).get("result", []):
        labels = dict(item.get("metric", {}))
        name = labels.pop("__name__", "")
        bid = mapping.broker_of(labels)
        if bid is not None:
            scrape = mapped.setdefault(bid, Scrape(bid, at))
        else:
            key = _target_key(labels)
            scrape = unmapped.setdefault(key, Scrape(-1, at))
        for k in (*_TARGET_LABELS, mapping.broker_label or ""):
            labels.pop(k, None)
        scrape.values.setdefault(name, {})[tuple(sorted(labels.items()))] = float(item["value"][1])
    return PrometheusRound(at, sorted(mapped.values(), key=lambda s: s.broker_id), unmapped)


def query_scrapes(base_url: str, at: float, *, client: httpx.Client | None = None,
                  mapping: BrokerMapping | None = None, timeout_s: float = 10.0) -> list[Scrape]:
    """The brokers' series at `at` (targets that cannot be mapped exactly are left out)."""
    return query_round(base_url, at, mapping or BrokerMapping(), client=client, timeout_s=timeout_s).brokers


def unmapped_totals(prev: PrometheusRound, cur: PrometheusRound) -> dict[str, float]:
    """Load of the targets no label identifies, summed: it still counts for the cluster as a whole."""
    from brokerscale.observe.jmx import broker_load

    totals: dict[str, float] = defaultdict(float)
    for key, c in cur.unmapped.items():
        p = prev.unmapped.get(key)
        if p is None:
            continue
        load = broker_load(p, c)
        for attr in ("bytes_out_per_s", "requests_per_s", "connections"):
            v = getattr(load, attr)
            if v is not None:
                totals[attr] += float(v)
    return dict(totals)
