"""Per-topic traffic from the brokers' own counters (observe's JMX exporter scrapes), when they exist.

The brokers count bytes in and bytes out per topic exactly (BrokerTopicMetrics, replication
excluded), which beats estimating from offsets × average record size. So when exporter URLs are
known (`--metrics-url`, or a local dev cluster) the topic totals come from them; offsets still give
the per-partition split that hot-partition detection needs, and remain the fallback everywhere else
(Confluent Cloud, clusters without an exporter). Scraping itself is observe's code, reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from brokerscale.errors import Unreachable
from brokerscale.topics.model import TopicRate


@dataclass
class MetricsSource:
    """Two scrapes of every broker's exporter, bracketing the offset-sampling window."""

    urls: dict[int, str]
    _first: dict[int, Any] | None = None
    failed: str | None = None

    def start(self) -> None:
        self._first = self._scrape()

    def _scrape(self) -> dict[int, Any] | None:
        from brokerscale.observe import jmx

        try:
            got, failed = jmx.scrape_many(self.urls, timeout_s=15.0)
        except Unreachable as exc:
            self.failed = str(exc)
            return None
        if failed or len(got) != len(self.urls):
            self.failed = failed[0] if failed else "an exporter did not answer"
            return None
        return got

    def finish(self, topics: list[str]) -> dict[str, TopicRate] | None:
        """Per-topic rates over the window, or None (and `failed` says why) if any broker was missing."""
        from brokerscale.observe import jmx

        second = self._scrape()
        if self._first is None or second is None:
            return None
        window = min(second[b].ts - self._first[b].ts for b in second)
        rates = jmx.topic_rates(self._first.values(), second.values())
        source = f"broker metrics (JMX exporter) over {window:.1f} s"
        return {t: TopicRate(rates.get(t, {}).get("bytes_in_per_s", 0.0), rates.get(t, {}).get("bytes_out_per_s", 0.0),
                             source) for t in topics}


def metrics_source(bootstrap: str, given: list[str] | None, mode: str) -> MetricsSource | None:
    """The exporter scrape plan for `--source` (auto | offsets | metrics)."""
    if mode == "offsets":
        return None
    from brokerscale.observe.collect import dev_metrics_urls, parse_metrics_urls

    urls = parse_metrics_urls(given) if given else dev_metrics_urls(bootstrap)
    if not urls:
        if mode == "metrics":
            from brokerscale.errors import BadInput

            raise BadInput("--source: metrics needs --metrics-url ID=URL (or a local dev cluster's exporters)")
        return None
    return MetricsSource(urls)

