"""What happens to a message the network server delivers: stored (fleet.services.ingest), the nodes whose
alerts may change judged at once (fleet.services.health), counted — all in one transaction.

The HTTP webhooks go through the group-commit writer (fleet.services.batcher), which calls store_batch();
the MQTT subscriber (`kumpel fleet mqtt`) calls handle() for one message at a time. Sending the downlinks a
node is due is the caller's next step, outside the writer (fleet.services.downlinks.send_due).
"""

from sqlmodel import Session

from fleet.lns.base import EventIn, NetworkServer, UplinkIn
from fleet.services import downlinks, health, ingest
from fleet.settings import Settings


def count(metrics, item: UplinkIn | EventIn, result: dict) -> None:  # noqa: ANN001
    if metrics is None:
        return
    if isinstance(item, UplinkIn):
        metrics.uplinks.labels(item.source, result["result"]).inc()
        if result.get("decode_error"):
            metrics.decode_errors.labels(item.source).inc()
    else:
        metrics.events.labels(item.source, item.kind).inc()


def store_batch(session: Session, items: list, cfg: Settings) -> list[dict]:
    """Store many parsed LNS messages and judge the nodes that need it, in the caller's transaction."""
    results = ingest.ingest_batch(session, items, cfg)
    health.judge_stored(session, results, cfg)
    return results


def store(session: Session, item: UplinkIn | EventIn, cfg: Settings, metrics=None) -> dict:  # noqa: ANN001
    """Store one parsed LNS message in the caller's transaction and count it."""
    result = store_batch(session, [item], cfg)[0]
    count(metrics, item, result)
    return result


def handle(
    item: UplinkIn | EventIn, session: Session, cfg: Settings, adapter: NetworkServer, metrics
) -> dict:  # noqa: ANN001
    """One message in its own transaction, then that node's due downlinks (the MQTT subscriber's path)."""
    result = store(session, item, cfg, metrics)
    session.commit()
    downlinks.send_due(session, [result], adapter, cfg)
    return result
