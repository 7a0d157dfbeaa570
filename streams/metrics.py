"""Viewers per live stream for ``/metrics``, read from presence when scraped.

Presence is exact across workers, so these are cluster-wide values (every
worker answers the same): only the ``METRICS_TOP_STREAMS`` most watched
streams get a label of their own, so a platform with many streams does not
give Prometheus an unbounded series count.
"""

from __future__ import annotations

import logging

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.selectors import live_stream_viewers

logger = logging.getLogger(__name__)


class LiveStreamsCollector(Collector):
    def collect(self):
        try:
            rows = live_stream_viewers()
        except Exception:
            # A scrape must still answer with the gateway's metrics.
            logger.warning("live stream metrics unavailable", exc_info=True)
            return
        yield GaugeMetricFamily("streams_live", "Live streams", value=len(rows))
        yield GaugeMetricFamily(
            "streams_viewers", "Viewers of all live streams", value=sum(n for _, n in rows)
        )
        top = GaugeMetricFamily(
            "streams_top_viewers",
            "Viewers of the most watched live streams (METRICS_TOP_STREAMS of them)",
            labels=["stream"],
        )
        for stream, count in rows[: settings.METRICS_TOP_STREAMS]:
            top.add_metric([str(stream.pk)], count)
        yield top
