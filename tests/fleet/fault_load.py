"""Load from many concurrent ingest clients that behave like ChirpStack's HTTP integration: a request that
fails (connection reset, 5xx) is posted again, the same event with the same deduplicationId, until it is
acknowledged. What was acknowledged is recorded, so a fault test can check it was all stored, once."""

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import uvicorn
from fleet_helpers import INGEST, MEASUREMENT, cs_up
from sqlalchemy import create_engine, text

URL = "/integrations/chirpstack?event=up"


@dataclass
class LoadResult:
    acked: set[str] = field(default_factory=set)
    codes: Counter = field(default_factory=Counter)
    transport_errors: int = 0
    unavailable_latency_s: list[float] = field(default_factory=list)  # how long each 503 took to come back
    ok_latency_s: list[float] = field(default_factory=list)  # and each acknowledgement, for comparison

    @property
    def retried(self) -> int:
        return self.transport_errors + sum(n for c, n in self.codes.items() if c >= 500)


async def post_all(
    base: str,
    devs: list[str],
    per_client: int,
    deadline: float,
    pause: float = 0.0,
    out: LoadResult | None = None,
) -> LoadResult:
    """One client per node, each sending per_client uplinks in order, retrying each until acknowledged.
    Pass `out` to watch the progress while the load runs (a fault test strikes mid-load, not by the clock)."""
    out = LoadResult() if out is None else out

    async def one(dev: str) -> None:
        async with httpx.AsyncClient(base_url=base, headers=INGEST, timeout=10) as http:
            for fcnt in range(1, per_client + 1):
                ev = cs_up(dev, 1, MEASUREMENT, fcnt=fcnt, dedup=str(uuid.uuid4()))
                body = json.dumps(ev)
                while True:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{dev} fcnt {fcnt} not acknowledged in time: {out.codes}")
                    t0 = time.monotonic()
                    try:
                        r = await http.post(URL, content=body, headers={"Content-Type": "application/json"})
                    except httpx.TransportError:
                        out.transport_errors += 1
                        await asyncio.sleep(0.05)
                        continue
                    out.codes[r.status_code] += 1
                    if r.status_code < 300:
                        out.ok_latency_s.append(time.monotonic() - t0)
                        out.acked.add(ev["deduplicationId"])
                        break
                    assert r.status_code >= 500, r.text  # a 4xx would be our bug: the event is valid
                    if r.status_code == 503:
                        out.unavailable_latency_s.append(time.monotonic() - t0)
                    await asyncio.sleep(0.1)
                if pause:
                    await asyncio.sleep(pause)

    await asyncio.gather(*(one(d) for d in devs))
    return out


def stored_dedup_ids(database_url: str) -> Counter:
    """deduplicationId -> number of stored uplinks carrying it (the key's last ':' part)."""
    engine = create_engine(database_url)
    with engine.connect() as c:
        keys = c.execute(text("SELECT dedup_key FROM uplink")).scalars().all()
    engine.dispose()
    return Counter(k.rsplit(":", 1)[-1] for k in keys)


@contextmanager
def serving(app):  # noqa: ANN001, ANN201
    """The app under a real uvicorn on an ephemeral loopback port; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
