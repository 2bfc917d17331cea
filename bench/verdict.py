"""What one health verdict costs (run by hand: `python bench/verdict.py`): issue 13 wants it per uplink.

A node with --readings readings and uplinks (default 200) on SQLite in a temporary folder, filled through
the fleet's own ingest path; then --runs verdicts each of
- `health.judge()`: what ingest's caller runs for a node whose alerts may change (gather, reasons,
  alerts, stored verdict), and
- `health.node_health()`: the node page's full picture (the same reasons plus provisioning and config
  details) — the named baseline,
printing SQL statements and median milliseconds per verdict, and the ratio judge / node_health.
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--readings", type=int, default=200)
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args()

    from sqlalchemy import event
    from sqlmodel import Session, select

    from fleet import db
    from fleet.lns.base import NetworkServer, UplinkIn
    from fleet.models import Device, utcnow
    from fleet.services import health, provisioning, receive
    from fleet.settings import Settings
    from protocols import codec

    folder = tempfile.mkdtemp(prefix="kumpel-bench-")
    cfg = Settings(env="test", database_url=f"sqlite:///{folder}/bench.db", secret_key="b" * 32)
    engine = db.make_engine(cfg.database_url)
    db.migrate(engine)
    with Session(engine) as s:
        device, _ = provisioning.create_device(s, cfg, NetworkServer(), provisioning.DeviceIn(name="bench"))
        s.commit()
        eui = device.dev_eui
        start = utcnow() - timedelta(minutes=15 * args.readings)
        for i in range(args.readings):
            frame = codec.encode_measurement(
                {
                    "distance_cm": 60 + i % 7,
                    "no_echo": False,
                    "temperature_c": 12.0 + i % 5,
                    "humidity_pct": 50.0,
                    "battery_mv": 3700 - i,
                    "flags": [],
                }
            )
            up = UplinkIn(source="bench", dev_eui=eui, dedup_key=f"b{i}", fport=1, fcnt=i, data=frame,
                          received_at=start + timedelta(minutes=15 * i))  # fmt: skip
            receive.store_batch(s, [up], cfg)
        s.commit()

    statements = [0]
    event.listen(engine, "before_cursor_execute", lambda *a: statements.__setitem__(0, statements[0] + 1))
    figures = {}
    with Session(engine) as s:
        device = s.exec(select(Device).where(Device.dev_eui == eui)).one()
        for name, run in (
            ("node_health (node page, baseline)", lambda: health.node_health(s, device, cfg)),
            ("judge (after ingest, per node)", lambda: health.judge(s, device, cfg)),
        ):
            run()  # warm: compiled statements cached
            statements[0], times = 0, []
            for _ in range(args.runs):
                t = time.perf_counter()
                run()
                times.append((time.perf_counter() - t) * 1000)
            figures[name] = (statistics.median(times), statements[0] / args.runs)
            print(f"  {name:<36} {figures[name][0]:6.2f} ms   {figures[name][1]:4.0f} statements", flush=True)
    (base_ms, _), (judge_ms, _) = figures.values()
    print(
        f"  ratio judge / node_health: {judge_ms / base_ms:.2f} ({args.readings} readings, {args.runs} runs)"
    )


if __name__ == "__main__":
    main()
