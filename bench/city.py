"""City load test for the fleet manager (run by hand: `python bench/city.py`; not part of `make test`).

Simulates N nodes (default 100,000, one uplink per 15 minutes each) sending ChirpStack v4 `up` events as
ChirpStack's HTTP integration posts them (built with chirpstack-api and `MessageToJson`, 3 gateways each),
against `kumpel fleet serve --workers W` on PostgreSQL (W = 1, 2, 4) and on SQLite (W = 1), and against a
bare endpoint that only does `json.loads` on the same bodies with the same worker count (the ceiling).
For each target, in the same run:

- saturation: 16 keep-alive clients post as fast as answers come (closed loop): sustained events/s, p50/p99
  latency from post to commit (an answer is sent only after its commit), CPU seconds of the server's
  processes per 1,000 uplinks;
- schedule: open loop at N / interval events/s (100,000 nodes: 111/s) for --schedule-s seconds;
- burst: open loop at --burst-rate events/s (1,200: the backlog after a network-server or gateway outage)
  for --burst-s seconds (60 in the issue; shorter by default so a run takes minutes).
Open-loop latency counts from the event's scheduled time, so a server that falls behind shows it.

Options: --nodes --workers 1,2,4 --saturate N --schedule-s S --burst-rate R --burst-s S --skip-sqlite
--skip-pg. PostgreSQL at KUMPEL_BENCH_PG_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test);
a throwaway database is created and dropped. Not yet: the same load over MQTT (`kumpel fleet mqtt`).
"""

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as ingest_bench  # noqa: E402  (the same free port, raw HTTP post and throwaway database)

TOKEN = "bench-city-ingest-token"
KUMPEL = Path(sys.executable).parent / "kumpel"
CLIENTS = 16
TICK = os.sysconf("SC_CLK_TCK")

BARE_APP = """
import json
from fastapi import FastAPI, Request

def create_app():
    app = FastAPI()

    @app.post("/integrations/chirpstack")
    async def up(request: Request, event: str):
        msg = json.loads(await request.body())
        return {"result": "parsed", "f_cnt": msg.get("fCnt")}

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app
"""


# --- events --------------------------------------------------------------------------------------------
def event_template() -> str:
    """One ChirpStack v4 UplinkEvent as its JSON integration marshals it (chirpstack-api + MessageToJson),
    with placeholders for what changes per event: replacing strings is cheap, marshalling 100,000 is not."""
    from chirpstack_api import gw, integration
    from google.protobuf import json_format

    from protocols import codec

    frame = codec.encode_measurement(
        {
            "distance_cm": 80,
            "no_echo": False,
            "temperature_c": 18.5,
            "humidity_pct": 61.0,
            "battery_mv": 3650,
            "flags": 0,
        }
    )
    ev = integration.UplinkEvent(
        deduplication_id="@DEDUP@",
        device_info=integration.DeviceInfo(
            tenant_id="52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            tenant_name="City",
            application_id="ca739e26-7b67-4f14-b69e-d568c22a5a75",
            application_name="bins",
            device_profile_id="f8c2b1b5-3b1c-4a38-9e52-0d2c5e3c7a11",
            device_profile_name="kumpel",
            device_name="bin",
            dev_eui="@DEVEUI@",
        ),
        dev_addr="01fa3b2c",
        adr=True,
        dr=3,
        f_cnt=424242,
        f_port=1,
        data=frame,
        rx_info=[
            gw.UplinkRxInfo(
                gateway_id=f"0016c001ff10a23{i}",
                uplink_id=1000 + i,
                rssi=-90 - 5 * i,
                snr=7.5 - i,
                channel=1,
                context=b"\0\0\0\0",
                crc_status=gw.CRC_OK,
            )
            for i in range(3)
        ],
        tx_info=gw.UplinkTxInfo(
            frequency=868100000,
            modulation=gw.Modulation(
                lora=gw.LoraModulationInfo(bandwidth=125000, spreading_factor=9, code_rate=gw.CR_4_5)
            ),
        ),
    )
    ev.time.FromDatetime(datetime(2030, 1, 1, tzinfo=UTC))
    body = json_format.MessageToJson(ev, indent=None)
    assert base64.b64encode(frame).decode() in body
    return body.replace("424242", "@FCNT@").replace("2030-01-01T00:00:00Z", "@TIME@")


class Events:
    """Uplinks of N nodes in schedule order: node i sends its k-th uplink as fCnt k."""

    def __init__(self, euis: list[str]) -> None:
        self.euis, self.template, self.sent = euis, event_template(), 0

    def next(self) -> bytes:
        i = self.sent
        self.sent += 1
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return (
            self.template.replace("@DEDUP@", str(uuid.uuid4()))
            .replace("@DEVEUI@", self.euis[i % len(self.euis)].lower())
            .replace("@FCNT@", str(i // len(self.euis) + 1))
            .replace("@TIME@", now)
            .encode()
        )


# --- servers -------------------------------------------------------------------------------------------
def _tree(pid: int) -> list[int]:
    out = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def cpu_seconds(pid: int) -> float:
    """utime + stime of the server and its workers (and of workers that have exited: cutime, cstime)."""
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / TICK


def start(cmd: list[str], env: dict, cwd: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=cwd, stdout=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(1.0)  # the other workers come up too
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def seed(url: str, n: int) -> list[str]:
    from sqlmodel import Session

    from fleet import db
    from fleet.models import Device

    engine = db.make_engine(url)
    db.migrate(engine)
    euis = [f"{i:016X}" for i in range(1, n + 1)]
    t = time.perf_counter()
    # A running city: every node was seen one interval ago and judged ok, so its next plain reading is the
    # steady-state path (verdict marked stale for the sweep), not a new node's first full evaluation.
    seen = datetime.now(UTC) - timedelta(seconds=900)
    with Session(engine) as s:
        for lo in range(0, n, 10_000):
            s.add_all(
                Device(
                    dev_eui=e,
                    join_eui="0" * 16,
                    name=f"bin {lo + i}",
                    expected_interval_s=900,
                    last_seen_at=seen,
                    last_fcnt=0,
                    late_at=seen + timedelta(seconds=900 * 4),
                    offline_at=seen + timedelta(seconds=900 * 6),
                    health_status="ok",
                )
                for i, e in enumerate(euis[lo : lo + 10_000])
            )
            s.commit()
    engine.dispose()
    print(f"  seeded {n} nodes in {time.perf_counter() - t:.1f} s", flush=True)
    return euis


# --- load ----------------------------------------------------------------------------------------------
async def drive(port: int, events: Events, n: int, rate: float | None) -> dict:
    """Post n events over CLIENTS keep-alive connections (raw asyncio streams, so the load generator stays
    cheap next to the server on the same cores). rate None: closed loop; else open loop at rate/s."""
    head = (
        f"POST /integrations/chirpstack?event=up HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}"
        "\r\nContent-Type: application/json\r\nContent-Length: "
    ).encode()
    queue: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    t0 = time.perf_counter()

    async def produce() -> None:
        for i in range(n):
            due = t0 + i / rate if rate else time.perf_counter()
            if rate and (wait := due - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            queue.put_nowait((due, events.next()))
            if not rate and queue.qsize() > CLIENTS * 4:
                await asyncio.sleep(0)
        for _ in range(CLIENTS):
            queue.put_nowait(None)

    async def client() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (item := await queue.get()) is not None:
            due, body = item
            start_at = due if rate else time.perf_counter()
            if await ingest_bench.raw_post(reader, writer, head, body) != 200:
                errors += 1
            latencies.append((time.perf_counter() - start_at) * 1000)
        writer.close()

    await asyncio.gather(produce(), *(client() for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - t0
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)],
        "errors": errors,
        "n": len(latencies),
    }


def measure(name: str, proc: subprocess.Popen, port: int, events: Events, args, bare: bool) -> dict:  # noqa: ANN001
    asyncio.run(drive(port, events, min(len(events.euis), 2000), None))  # warm-up: first verdicts, pools
    cpu0 = cpu_seconds(proc.pid)
    sat = asyncio.run(drive(port, events, args.saturate, None))
    sat["cpu_per_1000"] = (cpu_seconds(proc.pid) - cpu0) / sat["n"] * 1000
    print(
        f"  {name:<34} saturation {sat['rate']:7.0f}/s  p50 {sat['p50']:6.1f} ms  p99 {sat['p99']:7.1f} ms"
        f"  CPU {sat['cpu_per_1000']:5.2f} s/1000  errors {sat['errors']}",
        flush=True,
    )
    if bare:
        return sat
    schedule_rate = len(events.euis) / args.interval_s
    for phase, rate, secs in (
        ("schedule", schedule_rate, args.schedule_s),
        ("burst", args.burst_rate, args.burst_s),
    ):
        if secs <= 0:
            continue
        r = asyncio.run(drive(port, events, int(rate * secs), rate))
        print(
            f"  {'':<34} {phase:<8} {rate:6.0f}/s offered -> {r['rate']:6.0f}/s  p50 {r['p50']:7.1f} ms"
            f"  p99 {r['p99']:8.1f} ms  errors {r['errors']}",
            flush=True,
        )
    return sat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--interval-s", type=int, default=900)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--saturate", type=int, default=20_000)
    p.add_argument("--schedule-s", type=int, default=20)
    p.add_argument("--burst-rate", type=int, default=1200)
    p.add_argument("--burst-s", type=int, default=15)
    p.add_argument("--skip-sqlite", action="store_true")
    p.add_argument("--skip-pg", action="store_true")
    args = p.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="kumpel-city-"))
    (tmp / "bare_app.py").write_text(BARE_APP)
    print(
        f"city: {args.nodes} nodes every {args.interval_s} s ({args.nodes / args.interval_s:.0f}/s), "
        f"{CLIENTS} clients, ChirpStack v4 up events with 3 gateways (MessageToJson)",
        flush=True,
    )
    bare: dict[int, float] = {}
    euis_bare = [f"{i:016X}" for i in range(1, args.nodes + 1)]
    for w in workers:
        port = ingest_bench.free_port()
        cmd = [sys.executable, "-m", "uvicorn", "bare_app:create_app", "--factory", "--port", str(port)]
        cmd += ["--log-level", "warning", "--no-access-log", "--workers", str(w)]
        proc = start(cmd, {"PYTHONPATH": str(tmp)}, tmp, port)
        try:
            bare[w] = measure(f"bare json.loads, {w} worker(s)", proc, port, Events(euis_bare), args, True)[
                "rate"
            ]
        finally:
            proc.terminate()
            proc.wait()
    targets = [] if args.skip_pg else [("PostgreSQL", w) for w in workers]
    targets += [] if args.skip_sqlite else [("SQLite", 1)]
    databases: dict[str, tuple[str, list[str], callable]] = {}
    try:
        for kind, w in targets:
            if kind not in databases:
                if kind == "PostgreSQL":
                    url, drop = ingest_bench.pg_database("kumpel_city")
                else:
                    url, drop = f"sqlite:///{tmp / 'city.db'}", None
                databases[kind] = (url, seed(url, args.nodes), drop)
            url, euis, _ = databases[kind]
            port = ingest_bench.free_port()
            env = {
                "KUMPEL_DATABASE_URL": url,
                "KUMPEL_INGEST_TOKEN": TOKEN,
                "KUMPEL_SWEEP_INTERVAL_S": "60",
                "KUMPEL_ENV": "development",
            }
            cmd = [str(KUMPEL), "fleet", "serve", "--port", str(port), "--workers", str(w)]
            proc = start(cmd, env, tmp, port)
            try:
                sat = measure(f"fleet on {kind}, {w} worker(s)", proc, port, Events(euis), args, False)
            finally:
                proc.terminate()
                proc.wait()
            print(
                f"  {'':<34} ratio to bare json.loads ({w} worker(s)): {sat['rate'] / bare[w]:.2f}",
                flush=True,
            )
    finally:
        for _, _, drop in databases.values():
            if drop:
                drop()


if __name__ == "__main__":
    main()
