"""Events to the fleet off the radio link's path, in order per device, with causality kept.

The fast runner's node processes host hundreds of nodes each: an uplink that waited for its HTTP post
(a few ms with the fleet in this very process) would stall every node of that process. Here events are
posted by a few threads; each device's events go through one thread, so the fleet sees them in order.
Causality: before the network server handles a device's next join or uplink, the radio link waits
(`drain(dev_eui)`) until the fleet has answered every event of that device posted so far, so a downlink
the fleet queued while ingesting uplink n is in the queue when uplink n+1 opens its receive window,
as with the synchronous poster.
"""

from __future__ import annotations

import queue
import threading
import zlib
from collections import Counter
from typing import Any

from tools.emulator.network_server import EventSink

_STOP = object()


class OrderedEventQueue:
    """An EventSink that posts through `sink` on `threads` threads, in order per device."""

    def __init__(self, sink: EventSink, threads: int = 4):
        self.sink = sink
        self._queues: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(threads)]
        self._pending: Counter[str] = Counter()
        self._total = 0
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._run, args=(q,), name=f"event-post-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        for t in self._threads:
            t.start()

    def post(self, event: str, message: Any) -> None:
        dev = message.device_info.dev_eui.lower()
        with self._cond:
            self._pending[dev] += 1
            self._total += 1
        self._queues[zlib.crc32(dev.encode()) % len(self._queues)].put((dev, event, message))

    def _run(self, q: queue.SimpleQueue) -> None:
        while True:
            item = q.get()
            if item is _STOP:
                return
            dev, event, message = item
            try:
                self.sink.post(event, message)  # the poster counts and logs its own failures
            finally:
                with self._cond:
                    self._pending[dev] -= 1
                    self._total -= 1
                    self._cond.notify_all()

    def drain(self, dev_eui: str | None = None, timeout_s: float | None = None) -> bool:
        """Wait until every event (of this device, or all) posted so far was answered by the fleet."""
        with self._cond:
            if dev_eui is None:
                return self._cond.wait_for(lambda: self._total == 0, timeout_s)
            return self._cond.wait_for(lambda: self._pending[dev_eui] <= 0, timeout_s)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._total

    def close(self, timeout_s: float = 30.0) -> None:
        self.drain(timeout_s=timeout_s)
        for q in self._queues:
            q.put(_STOP)
        for t in self._threads:
            t.join(timeout=5)
