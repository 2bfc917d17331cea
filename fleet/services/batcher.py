"""Group commit for ingest: one writer thread stores whatever arrived meanwhile in one transaction.

A commit costs a WAL write (SQLite) or an fsync (PostgreSQL) and SQLite has one writer at a time; committing
each uplink alone caps ingest at a few hundred per second and makes concurrent requests queue on the lock.
Here each HTTP request still gets its answer only after its data is committed (nothing is acknowledged
that could be lost), but hundreds of requests share one commit. If a batch fails as a whole, its items are
retried one by one so that a single poisonous item fails alone.
"""

import logging
import queue
import threading
import time
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from fleet.lns.base import EventIn, UplinkIn
from fleet.services import ingest
from fleet.services.config import dispatch

log = logging.getLogger("kumpel.fleet.ingest")


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]


def store(session: Session, item: UplinkIn | EventIn, cfg, metrics) -> dict:  # noqa: ANN001
    """Store one parsed LNS message in the caller's transaction and count it."""
    if isinstance(item, UplinkIn):
        result = ingest.ingest_uplink(session, item, cfg)
        if metrics is not None:
            metrics.uplinks.labels(item.source, result["result"]).inc()
            if result.get("decode_error"):
                metrics.decode_errors.labels(item.source).inc()
        return result
    result = ingest.ingest_event(session, item, cfg)
    if metrics is not None:
        metrics.events.labels(item.source, item.kind).inc()
    return result


def send_due(session: Session, results: list[dict], adapter, cfg) -> None:  # noqa: ANN001
    """After uplinks: a Class A node listens right after it sends, so send its due downlinks now. A config
    report may have moved a rollout to its next batch: then send everything due."""
    stored = [r for r in results if r.get("result") == "stored" and r.get("device_id")]
    if not stored:
        return
    if any(r.get("frame_type") == "config_report" for r in stored):
        dispatch(session, adapter, cfg)
    else:
        dispatch(session, adapter, cfg, device_ids=sorted({r["device_id"] for r in stored}))
    session.commit()


class IngestBatcher:
    def __init__(self, engine, cfg, adapter, metrics, max_batch: int = 256) -> None:  # noqa: ANN001
        self._engine, self._cfg, self._adapter, self._metrics = engine, cfg, adapter, metrics
        self._max = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kumpel-ingest-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)
            self._thread = None

    def submit(self, item: UplinkIn | EventIn) -> Future:
        fut: Future = Future()
        if self._thread is None:
            fut.set_exception(RuntimeError("ingest writer not running (app not started)"))
            return fut
        self._queue.put((item, fut))
        self._metrics.queue_depth.inc()
        return fut

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(nxt)
            self._process(batch)

    def _process(self, batch: list) -> None:
        self.batches += 1
        self._metrics.queue_depth.dec(len(batch))
        try:
            started = time.perf_counter()
            with Session(self._engine) as session:
                results = ingest.ingest_batch(session, [item for item, _ in batch], self._cfg)
                session.commit()
            self._metrics.commit_seconds.observe(time.perf_counter() - started)
            self._metrics.batch_size.observe(len(batch))
        except OperationalError as exc:
            # The database is down, restarting or out of disk: every item would fail the same way, one by
            # one, while new requests queue behind them. Fail the batch at once (the senders get 503 and
            # post again; nothing of it was acknowledged).
            log.error("ingest batch of %d not stored, database unavailable: %s", len(batch), _first_line(exc))
            for _, fut in batch:
                fut.set_exception(exc)
            return
        except Exception:
            log.exception("ingest batch of %d failed; storing its items one by one", len(batch))
            results = []
            for item, fut in batch:
                try:
                    with Session(self._engine) as session:
                        result = store(session, item, self._cfg, None)
                        session.commit()
                    results.append(result)
                    self._count(item, result)
                    fut.set_result(result)
                except Exception as exc:
                    fut.set_exception(exc)
            self._after(results)
            return
        for (item, fut), result in zip(batch, results, strict=True):
            self._count(item, result)
            fut.set_result(result)
        self._after(results)

    def _count(self, item, result: dict) -> None:  # noqa: ANN001
        m = self._metrics
        if isinstance(item, UplinkIn):
            m.uplinks.labels(item.source, result["result"]).inc()
            if result.get("decode_error"):
                m.decode_errors.labels(item.source).inc()
        else:
            m.events.labels(item.source, item.kind).inc()

    def _after(self, results: list[dict]) -> None:
        try:
            with Session(self._engine) as session:
                send_due(session, results, self._adapter, self._cfg)
        except Exception:  # downlinks are retried by the sweep; ingest must go on
            log.exception("sending due downlinks after ingest failed")
