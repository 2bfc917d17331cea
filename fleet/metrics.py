"""Prometheus metrics: counters bumped by ingest, gauges read from the database at scrape time (so
several workers report the same fleet-wide numbers). One registry per app, so tests can build many apps.

Under `serve --workers N` a scrape reaches one worker, chosen by the kernel: the per-process counters are
then kept in prometheus_client's multiprocess files (PROMETHEUS_MULTIPROC_DIR, set by serve) and every
worker answers with the sum over all workers, including ones that have died since.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func
from sqlmodel import Session, col, select

from fleet.models import Downlink
from fleet.services import health


class FleetCollector:
    def __init__(self, engine) -> None:  # noqa: ANN001
        self._engine = engine

    def collect(self):  # noqa: ANN201
        with Session(self._engine) as session:
            summary = health.fleet_summary(session, worst=0)
            pending = session.exec(
                select(func.count()).select_from(Downlink).where(col(Downlink.state).in_(("queued", "sent")))
            ).one()
        nodes = GaugeMetricFamily("kumpel_nodes", "Nodes by overall health status", labels=["status"])
        for status, n in summary["by_status"].items():
            nodes.add_metric([status], n)
        yield nodes
        conn = GaugeMetricFamily("kumpel_nodes_connectivity", "Nodes by connectivity", labels=["state"])
        for state, n in summary["connectivity"].items():
            conn.add_metric([state], n)
        yield conn
        yield GaugeMetricFamily(
            "kumpel_downlinks_pending", "Downlinks queued or awaiting acknowledgement", value=pending
        )
        yield GaugeMetricFamily("kumpel_alerts_open", "Open alerts", value=summary["open_alerts"])


class Metrics:
    def __init__(self, engine) -> None:  # noqa: ANN001
        self.registry = CollectorRegistry()
        self.uplinks = Counter(
            "kumpel_uplinks",
            "Uplinks received, by source and result",
            ["source", "result"],
            registry=self.registry,
        )
        self.decode_errors = Counter(
            "kumpel_decode_errors", "Uplinks that failed to decode", ["source"], registry=self.registry
        )
        self.events = Counter(
            "kumpel_lns_events", "Non-uplink LNS events", ["source", "event"], registry=self.registry
        )
        self.rejected = Counter(
            "kumpel_ingest_rejected", "Ingest requests refused (4xx)", ["source"], registry=self.registry
        )
        self.unavailable = Counter(
            "kumpel_ingest_unavailable",
            "Requests answered 503 because the database was unavailable (down, restarting, disk full)",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "kumpel_ingest_queue_depth",
            "Uplinks and events waiting for the ingest writer (per worker; summed over live workers)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.commit_seconds = Histogram(
            "kumpel_ingest_commit_seconds",
            "Time for the writer to store and commit one batch",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.batch_size = Histogram(
            "kumpel_ingest_batch_size",
            "Uplinks and events committed together by the writer",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )
        self._fleet = FleetCollector(engine)
        self.registry.register(self._fleet)

    def render(self) -> bytes:
        where = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not where:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=where)
        merged.register(self._fleet)
        return generate_latest(merged)
