"""SensorThings API benchmark (run by hand: `python bench/sta.py`).

1. Query times of typical and heavy /sta/v1.1 requests with 1,000 public nodes x 30 days of readings
   (every 15 minutes: 2.88 M readings, 14.4 M observations across five quantities), generated in
   PostgreSQL with generate_series, served by the fleet under a real uvicorn (its own process). The
   baseline in the same run is GET /healthz (the server's floor per request).
2. Ingest under open-data load: uplinks/s through POST /integrations/chirpstack alone, then while clients
   keep sending the heavy SensorThings queries; the ratio says how much open data slows ingest.

Options: --nodes N --days D --interval-min M --uplinks N --readers R. PostgreSQL at KUMPEL_BENCH_PG_URL
(default postgresql+psycopg://postgres@127.0.0.1:5432/test); a throwaway database is created and dropped.
"""

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as ingest_bench  # noqa: E402  (the same server start-up and load generator)

DEVICES_SQL = """
INSERT INTO device (dev_eui, join_eui, name, hardware_model, board, ultrasonic, climate, bin_height_cm,
    lat, lon, street, district, app_key_enc, tags, lns_registered, created_at, expected_interval_s, rejoins,
    health_status, health_reasons, health_rank, health_stale)
SELECT lpad(to_hex(i), 16, '0'), '0000000000000000', 'bin ' || i, '', 'devkit_rak3172', 'a02yyuw',
    CASE WHEN i % 3 = 0 THEN 'bme280' ELSE 'shtc3' END, 110,
    51.40 + (i % 100) * 0.002, 7.10 + (i / 100) * 0.01,
    'Street ' || (i % 900), 'district ' || (i % 12), '', '[]', false, now() - interval '60 days', 7200, 0,
    'ok', '[]', 0, false
FROM generate_series(1, :nodes) AS i;
INSERT INTO device_group (name, description, config, created_at, open_data, open_data_decimals)
VALUES ('Stadt', '', '{}', now(), true, 3);
INSERT INTO groupmember (group_id, device_id, position) SELECT 1, id, 0 FROM device;
INSERT INTO uplink (device_id, dedup_key, source, received_at, fport, fcnt, data, gateways)
SELECT id, 'seed:' || id, 'chirpstack', now(), 1, 0, '\\x00'::bytea, 1 FROM device;
"""
READINGS_SQL = """
INSERT INTO reading (device_id, uplink_id, measured_at, distance_cm, no_echo, fill_pct, temperature_c,
    humidity_pct, pressure_hpa, battery_mv, flags)
SELECT d, d, now() - make_interval(mins => s * CAST(:step AS int)), 20 + (s + d) % 90, false,
    100 - (20 + (s + d) % 90) * 100 / 110,
    10 + (s % 96) / 8.0, 60 + s % 20, CASE WHEN d % 3 = 0 THEN 1000 + s % 30 END, 3700, '[]'
FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) AS d,
    generate_series(0, CAST(:samples AS int) - 1) AS s
"""


def generate(url: str, args: argparse.Namespace) -> int:
    from fleet import db

    engine = db.make_engine(url)
    db.migrate(engine)
    samples = args.days * 24 * 60 // args.interval_min
    t = time.perf_counter()
    with engine.begin() as c:
        for statement in DEVICES_SQL.split(";"):
            if statement.strip():
                c.execute(text(statement), {"nodes": args.nodes})
    for lo in range(1, args.nodes + 1, 100):
        with engine.begin() as c:
            c.execute(
                text(READINGS_SQL),
                {"lo": lo, "hi": min(lo + 99, args.nodes), "samples": samples, "step": args.interval_min},
            )
    with engine.begin() as c:
        c.execute(text("ANALYZE"))
        readings = c.execute(text("SELECT count(*) FROM reading")).scalar_one()
    print(
        f"  generated {args.nodes} nodes, {readings:,} readings in {time.perf_counter() - t:.0f} s",
        flush=True,
    )
    engine.dispose()
    return readings


def queries(nodes: int) -> list[tuple[str, str]]:
    mid = nodes // 2
    fill, temp = mid * 8 + 1, mid * 8 + 3
    return [
        ("things, first page", "/Things"),
        ("one bin's latest 100 fill levels",
         f"/Datastreams({fill})/Observations?$orderby=phenomenonTime desc"),
        ("one day of one temperature series",
         f"/Datastreams({temp})/Observations?$top=1000&$filter=phenomenonTime ge 2026-01-01T00:00:00Z"
         " and phenomenonTime lt 2099-01-01T00:00:00Z and day(phenomenonTime) eq day(now())"),
        ("20 things with their latest reading each",
         "/Things?$top=20&$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))"),
        ("HEAVY city-wide latest 100 observations", "/Observations?$orderby=phenomenonTime desc"),
        ("HEAVY count of all fill levels above 90 %",
         "/Observations?$count=true&$top=1"
         "&$filter=result gt 90 and Datastream/ObservedProperty/@iot.id eq 1"),
    ]  # fmt: skip


def timed(client: httpx.Client, path: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--interval-min", type=int, default=15)
    p.add_argument("--uplinks", type=int, default=3000)
    p.add_argument("--readers", type=int, default=2, help="concurrent clients sending heavy queries")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    print(
        f"SensorThings API: {args.nodes} nodes x {args.days} days every {args.interval_min} min (PostgreSQL)"
    )
    url, drop = ingest_bench.pg_database()
    proc = None
    try:
        generate(url, args)
        env = {
            "_CWD": str(Path(__file__).resolve().parent.parent),
            "KUMPEL_DATABASE_URL": url,
            "KUMPEL_INGEST_TOKEN": ingest_bench.TOKEN,
            "KUMPEL_SWEEP_INTERVAL_S": "0",
            "KUMPEL_ENV": "development",
        }
        port = ingest_bench.free_port()
        base = f"http://127.0.0.1:{port}"
        proc = ingest_bench.start_server("fleet.app:create_app", env, port, 1)
        with httpx.Client(base_url=base, timeout=120) as client:
            floor = timed(client, "/healthz", args.runs * 4)
            print(f"  {'baseline GET /healthz':<46} {floor:8.1f} ms")
            for name, path in queries(args.nodes):
                ms = timed(client, "/sta/v1.1" + path, args.runs)
                print(f"  {name:<46} {ms:8.1f} ms   ({ms / floor:,.0f}x baseline)", flush=True)
        heavy = [path for name, path in queries(args.nodes) if name.startswith("HEAVY")]
        from sqlalchemy import create_engine

        engine = create_engine(url)
        with engine.connect() as c:
            euis = [row[0] for row in c.execute(text("SELECT dev_eui FROM device ORDER BY id"))]
        engine.dispose()
        bodies = ingest_bench.uplink_bodies(euis, 2 * args.uplinks + len(euis))
        alone = ingest_bench.run_load("ingest alone", base, bodies[: args.uplinks + len(euis)], 32, len(euis))
        stop = threading.Event()
        served = [0]

        def reader() -> None:
            with httpx.Client(base_url=base, timeout=300) as c:
                while not stop.is_set():
                    for path in heavy:
                        c.get("/sta/v1.1" + path)
                        served[0] += 1

        threads = [threading.Thread(target=reader, daemon=True) for _ in range(args.readers)]
        for th in threads:
            th.start()
        time.sleep(1)
        t = time.perf_counter()
        elapsed, lat, errors = asyncio.run(ingest_bench.load(base, bodies[args.uplinks + len(euis) :], 32))
        stop.set()
        lat.sort()
        rate = len(lat) / elapsed
        p99 = lat[int(len(lat) * 0.99) - 1]
        print(
            f"  {'ingest during heavy SensorThings queries':<28} {rate:8.0f} uplinks/s   p50 "
            f"{statistics.median(lat):6.1f} ms   p99 {p99:7.1f} ms   errors {errors}   ({served[0]} heavy "
            f"queries served in {time.perf_counter() - t:.0f} s by {args.readers} clients)"
        )
        print(f"  ratio ingest under load / alone: {rate / alone['rate']:.2f}", flush=True)
        for th in threads:
            th.join(timeout=300)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        drop()


if __name__ == "__main__":
    main()
