"""Prometheus metrics: counters bumped by ingest, gauges read from the database at scrape time (so
several workers report the same fleet-wide numbers). One registry per app, so tests can build many apps."""

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
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
        self.registry.register(FleetCollector(engine))

    def render(self) -> bytes:
        return generate_latest(self.registry)
