"""Group commit for ingest: one writer thread stores whatever arrived meanwhile in one transaction.

A commit costs a WAL write (SQLite) or an fsync (PostgreSQL) and SQLite has one writer at a time; committing
each uplink alone caps ingest at a few hundred per second and makes concurrent requests queue on the lock.
Here each HTTP request still gets its answer only after its data is committed (nothing is acknowledged
that could be lost), but hundreds of requests share one commit. If a batch fails as a whole, its items are
retried one by one so that a single poisonous item fails alone.

The writer thread only writes: sending the downlinks a node is due (network-server calls, which can take
seconds when the LNS is slow) happens on a second thread, so a slow LNS never holds up ingest.
"""

import logging
import queue
import threading
import time
from concurrent.futures import Future

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from fleet.lns.base import EventIn, UplinkIn
from fleet.services import downlinks, receive

log = logging.getLogger("kumpel.fleet.ingest")


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]


class IngestBatcher:
    def __init__(self, engine, cfg, adapter, metrics, max_batch: int = 256) -> None:  # noqa: ANN001
        self._engine, self._cfg, self._adapter, self._metrics = engine, cfg, adapter, metrics
        self._max = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._sends: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._sender: threading.Thread | None = None
        self.batches = 0
        self.writer_ident: int | None = None  # the writer thread's id (tests check who calls the LNS)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kumpel-ingest-writer", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="kumpel-downlink-sender", daemon=True)
        self._thread.start()
        self._sender.start()
        self.writer_ident = self._thread.ident

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10)
            self._thread = None
        if self._sender is not None:
            self._sends.put(None)
            self._sender.join(10)
            self._sender = None

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
                results = receive.store_batch(session, [item for item, _ in batch], self._cfg)
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
                        result = receive.store(session, item, self._cfg)
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
        receive.count(self._metrics, item, result)

    def _after(self, results: list[dict]) -> None:
        """Hand the stored results to the sender thread (the writer makes no network-server calls)."""
        if any(r.get("result") == "stored" for r in results):
            self._sends.put(results)

    def _send_loop(self) -> None:
        while True:
            results = self._sends.get()
            if results is None:
                return
            while True:  # coalesce whatever else is waiting into one dispatch
                try:
                    more = self._sends.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._sends.put(None)
                    break
                results = results + more
            try:
                with Session(self._engine) as session:
                    downlinks.send_due(session, results, self._adapter, self._cfg)
            except Exception:  # downlinks are retried by the sweep; ingest must go on
                log.exception("sending due downlinks after ingest failed")
