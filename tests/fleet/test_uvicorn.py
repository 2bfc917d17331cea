"""Ingest under a real uvicorn on loopback: concurrent posts, bad input, and the service keeps serving."""

import asyncio
import socket
import threading
import time

import httpx
import pytest
import uvicorn
from fleet_helpers import INGEST, add_device, cs_up

from protocols import codec


@pytest.fixture
def server(app):  # noqa: ANN001, ANN201
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not srv.started and time.time() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(5)
    sock.close()


def test_concurrent_ingest_and_bad_input_over_real_http(server, client, tech):
    dev = add_device(client, tech)["dev_eui"]
    frame = codec.encode_measurement(
        {
            "distance_cm": 80,
            "no_echo": False,
            "temperature_c": 18.0,
            "humidity_pct": 60.0,
            "battery_mv": 3700,
            "flags": 0,
        }
    )
    events = [cs_up(dev, 1, frame, fcnt=i + 1) for i in range(40)]

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=server, headers=INGEST, timeout=20) as http:
            bad = [
                http.post("/integrations/chirpstack?event=up", content=b"{oops"),
                http.post(
                    "/integrations/chirpstack?event=up", json={"deviceInfo": {"devEui": dev}, "data": "@@"}
                ),
                http.post("/integrations/chirpstack?event=bogus", json=events[0]),
            ]
            good = [http.post("/integrations/chirpstack?event=up", json=e) for e in events]
            dup = [http.post("/integrations/chirpstack?event=up", json=e) for e in events[:10]]
            responses = await asyncio.gather(*bad, *good, *dup)
            return [r.status_code for r in responses]

    codes = asyncio.run(run())
    assert codes[:3] == [400, 400, 400] and set(codes[3:]) == {200}
    h = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert h["packet_loss"]["received"] == 39 and h["packet_loss"]["loss_pct"] == 0.0
    assert len(client.get(f"/api/v1/devices/{dev}/uplinks?limit=1000", headers=tech).json()) == 40
    r = httpx.get(f"{server}/healthz")
    assert r.status_code == 200
