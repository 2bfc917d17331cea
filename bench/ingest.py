"""Ingest and fleet-summary benchmark for the fleet manager (run by hand: `python bench/ingest.py`).

1. Uplinks/s and p50/p99 latency through POST /integrations/chirpstack?event=up under a real uvicorn (its
   own process) with concurrent clients, on SQLite and on PostgreSQL, as a ratio to a bare endpoint that
   only parses the same JSON into a chirpstack-api UplinkEvent.
2. Fleet-summary query time with 100,000 nodes and 10,000,000 uplinks, generated in PostgreSQL with
   generate_series (the generation time is printed too).

Options: --uplinks N --concurrency C --devices D --summary-nodes N --summary-uplinks N --skip-pg
--skip-summary. PostgreSQL at KUMPEL_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a throwaway database is created and dropped.
"""

import argparse
import asyncio
import base64
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("KUMPEL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TOKEN = "bench-ingest-token"

BARE_APP = """
from chirpstack_api import integration
from fastapi import FastAPI, Request
from google.protobuf import json_format

def create_app():
    app = FastAPI()

    @app.post("/integrations/chirpstack")
    async def up(request: Request, event: str):
        msg = json_format.Parse((await request.body()).decode(), integration.UplinkEvent(),
                                ignore_unknown_fields=True)
        return {"result": "parsed", "f_cnt": msg.f_cnt}

    return app
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(app_ref: str, env: dict, port: int, workers: int) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app_ref,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--workers",
        str(workers),
    ]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=env["_CWD"])
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server {app_ref} did not start")


def uplink_bodies(dev_euis: list[str], n: int) -> list[bytes]:
    from protocols import codec

    frames = [
        codec.encode_measurement(
            {
                "distance_cm": 20 + i % 90,
                "no_echo": False,
                "temperature_c": 15.0 + i % 10,
                "humidity_pct": 60.0,
                "battery_mv": 3700,
                "flags": 0,
            }
        )
        for i in range(50)
    ]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    bodies = []
    for i in range(n):
        dev = dev_euis[i % len(dev_euis)]
        ev = {
            "deduplicationId": str(uuid.uuid4()),
            "time": now,
            "deviceInfo": {"applicationId": "bench", "deviceName": "bin", "devEui": dev.lower()},
            "devAddr": "01020304",
            "dr": 3,
            "fCnt": i // len(dev_euis) + 1,
            "fPort": 1,
            "data": base64.b64encode(frames[i % 50]).decode(),
            "rxInfo": [{"gatewayId": "0016c001ff10a235", "rssi": -90, "snr": 7.5, "crcStatus": "CRC_OK"}],
            "txInfo": {
                "frequency": 868100000,
                "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": 9, "codeRate": "CR_4_5"}},
            },
        }
        bodies.append(json.dumps(ev).encode())
    return bodies


async def raw_post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(base: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float], int]:
    """Keep-alive HTTP/1.1 clients on raw asyncio streams: far lighter than an HTTP library, so the
    figure measures the server, not the load generator (both share this machine's 2 cores)."""
    host, port = base.rsplit("//", 1)[1].split(":")
    head = (
        f"POST /integrations/chirpstack?event=up HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}"
        "\r\nContent-Type: application/json\r\nContent-Length: "
    ).encode()
    latencies: list[float] = []
    errors = 0
    it = iter(bodies)

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        for body in it:
            t = time.perf_counter()
            status = await raw_post(reader, writer, head, body)
            latencies.append((time.perf_counter() - t) * 1000)
            if status != 200:
                errors += 1
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - t0, latencies, errors


def run_load(name: str, base: str, bodies: list[bytes], concurrency: int, warmup: int) -> dict:
    """Warm-up first: one uplink per node, so every node has its first health verdict (the first uplink of
    a node is always judged at once) and the measured part is the steady state of a running fleet."""
    asyncio.run(load(base, bodies[:warmup], concurrency))
    elapsed, lat, errors = asyncio.run(load(base, bodies[warmup:], concurrency))
    lat.sort()
    res = {
        "name": name,
        "n": len(lat),
        "rate": len(lat) / elapsed,
        "p50": statistics.median(lat),
        "p99": lat[int(len(lat) * 0.99) - 1],
        "errors": errors,
    }
    print(
        f"  {name:<28} {res['rate']:8.0f} uplinks/s   p50 {res['p50']:6.1f} ms   p99 {res['p99']:7.1f} ms"
        f"   errors {errors}",
        flush=True,
    )
    return res


def seed_devices(url: str, n: int) -> list[str]:
    from sqlmodel import Session

    from fleet import db
    from fleet.models import Device

    engine = db.make_engine(url)
    db.migrate(engine)
    euis = [secrets.token_hex(8).upper() for _ in range(n)]
    with Session(engine) as s:
        s.add_all(Device(dev_eui=e, join_eui="0" * 16, name=f"bench {i}") for i, e in enumerate(euis))
        s.commit()
    engine.dispose()
    return euis


def pg_database(prefix: str = "kumpel_bench") -> tuple[str, callable]:
    """A throwaway PostgreSQL database next to PG: its URL and the function that drops it."""
    name = f"{prefix}_{secrets.token_hex(3)}"
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG.rsplit("/", 1)[0] + "/" + name, drop


def ingest_bench(args: argparse.Namespace) -> None:
    print(
        f"ingest: {args.uplinks} uplinks from {args.devices} nodes, {args.concurrency} concurrent clients, "
        f"uvicorn workers={args.workers}",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="kumpel-bench-"))
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    bodies_euis = [secrets.token_hex(8).upper() for _ in range(args.devices)]
    proc = start_server("bare_app:create_app", {"PYTHONPATH": str(tmp), "_CWD": str(tmp)}, port, args.workers)
    try:
        bare = run_load(
            "bare parse-only endpoint",
            f"http://127.0.0.1:{port}",
            uplink_bodies(bodies_euis, args.uplinks + args.devices),
            args.concurrency,
            args.devices,
        )
    finally:
        proc.terminate()
        proc.wait()
    targets = [("fleet on SQLite (WAL)", f"sqlite:///{tmp / 'bench.db'}", None)]
    if not args.skip_pg:
        targets.append(("fleet on PostgreSQL", None, None))
    for name, url, drop in targets:
        if url is None:  # created only when its turn comes, so a failure before cannot leave it behind
            url, drop = pg_database()
        try:
            euis = seed_devices(url, args.devices)
            env = {
                "_CWD": str(tmp),
                "KUMPEL_DATABASE_URL": url,
                "KUMPEL_INGEST_TOKEN": TOKEN,
                "KUMPEL_SWEEP_INTERVAL_S": "0",
                "KUMPEL_ENV": "development",
            }
            port = free_port()
            proc = start_server("fleet.app:create_app", env, port, args.workers)
            try:
                res = run_load(
                    name,
                    f"http://127.0.0.1:{port}",
                    uplink_bodies(euis, args.uplinks + args.devices),
                    args.concurrency,
                    args.devices,
                )
            finally:
                proc.terminate()
                proc.wait()
            print(f"  {'':<28} ratio to bare endpoint: {res['rate'] / bare['rate']:.2f}", flush=True)
        finally:
            if drop:
                drop()


SUMMARY_SQL = """
INSERT INTO device (dev_eui, join_eui, name, hardware_model, board, ultrasonic, climate, street, district,
    app_key_enc, tags, lns_registered, created_at, last_seen_at, last_fcnt, expected_interval_s, late_at,
    offline_at, rejoins, health_status, health_reasons, health_rank, health_stale)
SELECT lpad(to_hex(i), 16, '0'), '0000000000000000', 'bin ' || i, '', 'devkit_rak3172', 'a02yyuw', 'shtc3',
    'Street ' || (i % 900), 'district ' || (i % 12), '', '[]', false, now(),
    now() - make_interval(secs => (i % 400) * 60), 100, 7200,
    now() - make_interval(secs => (i % 400) * 60) + interval '2 hours',
    now() - make_interval(secs => (i % 400) * 60) + interval '3 hours', 0,
    CASE WHEN i % 97 = 0 THEN 'critical' WHEN i % 13 = 0 THEN 'warning' ELSE 'ok' END,
    (CASE WHEN i % 13 = 0 THEN '[{"code": "stuck", "severity": "warning", "message": "stuck"}]'
     ELSE '[]' END)::json,
    CASE WHEN i % 97 = 0 THEN 4 WHEN i % 13 = 0 THEN 2 ELSE 0 END, false
FROM generate_series(1, :nodes) AS i
"""
UPLINK_SQL = """
INSERT INTO uplink (device_id, dedup_key, source, received_at, fport, fcnt, data, frame_type, decoded,
    decode_error, rssi, snr, gateways, rx_info, dr, sf, frequency)
SELECT 1 + (i % :nodes), 'b:' || i, 'chirpstack', now() - make_interval(secs => (i / :nodes) * 7200), 1,
    i / :nodes, '\\x21ed33b7d540'::bytea, 'measurement', NULL, NULL, -90 - (i % 30), 7.5, 1, NULL, 3, 9,
    868100000
FROM generate_series(:lo, :hi) AS i
"""


def summary_bench(args: argparse.Namespace) -> None:
    from sqlmodel import Session

    from fleet import db
    from fleet.models import Device
    from fleet.services import health
    from fleet.settings import Settings

    print(
        f"fleet summary: {args.summary_nodes} nodes, {args.summary_uplinks} uplinks (PostgreSQL)", flush=True
    )
    url, drop = pg_database()
    try:
        engine = db.make_engine(url)
        db.migrate(engine)
        t = time.perf_counter()
        with engine.begin() as c:
            c.execute(text(SUMMARY_SQL), {"nodes": args.summary_nodes})
        print(f"  generated {args.summary_nodes} nodes in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        step = 2_000_000
        for lo in range(0, args.summary_uplinks, step):
            with engine.begin() as c:
                c.execute(
                    text(UPLINK_SQL),
                    {"nodes": args.summary_nodes, "lo": lo, "hi": min(lo + step, args.summary_uplinks) - 1},
                )
        with engine.begin() as c:
            c.execute(text("ANALYZE"))
        print(
            f"  generated {args.summary_uplinks} uplinks (with indexes) in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
        with Session(engine) as s:
            health.fleet_summary(s)  # warm
            times = []
            for _ in range(5):
                t = time.perf_counter()
                summary = health.fleet_summary(s)
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"  fleet_summary(): median {statistics.median(times):.0f} ms -> {summary['by_status']}",
                flush=True,
            )
            device = s.get(Device, args.summary_nodes // 2)
            times = []
            for _ in range(5):
                t = time.perf_counter()
                health.node_health(s, device, Settings())
                times.append((time.perf_counter() - t) * 1000)
            print(
                f"  node_health() of one node among them: median {statistics.median(times):.1f} ms",
                flush=True,
            )
        engine.dispose()
    finally:
        drop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uplinks", type=int, default=5000)
    p.add_argument("--devices", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--summary-nodes", type=int, default=100_000)
    p.add_argument("--summary-uplinks", type=int, default=10_000_000)
    p.add_argument("--skip-pg", action="store_true")
    p.add_argument("--skip-summary", action="store_true")
    p.add_argument("--skip-ingest", action="store_true")
    args = p.parse_args()
    if not args.skip_ingest:
        ingest_bench(args)
    if not args.skip_summary and not args.skip_pg:
        summary_bench(args)


if __name__ == "__main__":
    main()
