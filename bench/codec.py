"""Wire-contract benchmark: bytes, airtime and codec speed of our frames vs Cayenne LPP (run by hand).

    .venv/bin/python bench/codec.py [--readings 96] [--seed 1]

One simulated day of a waste bin sampled every 15 minutes (filling, emptied once, temperature and humidity
drifting, a few no-echo readings) is encoded as: our fPort 1 frame per reading, our fPort 2 batches of 8,
16 and 32 readings (32 split to fit 51 bytes), and Cayenne LPP with distance as an analog input (0.01 m)
or as the distance type (0.001 m), plus temperature, humidity and battery (analog input, volts).
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cayennelpp import LppFrame  # noqa: E402

from protocols import airtime, codec  # noqa: E402

STATUS_BYTES = 15


def day_of_readings(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    distance = 110.0
    for i in range(n):
        distance -= rng.uniform(0, 2.2)
        if i == n // 2:
            distance = 115.0  # the crew empties the bin
        temp = 12 + 6 * (1 - abs((i % 96) - 56) / 56) + rng.uniform(-0.2, 0.2)
        no_echo = rng.random() < 0.02
        out.append(
            {
                "distance_cm": None if no_echo else max(0, round(distance)),
                "no_echo": no_echo,
                "temperature_c": round(temp, 1),
                "humidity_pct": round(70 - (temp - 12) * 2 + rng.uniform(-1, 1)) / 1.0,
            }
        )
    return out


def lpp_frame(r: dict, battery_mv: int, distance_type: bool) -> bytes:
    f = LppFrame()
    d = r["distance_cm"] if r["distance_cm"] is not None else 0
    if distance_type:
        f.add_distance(1, d / 100)
    else:
        f.add_analog_input(1, d / 100)
    f.add_temperature(2, r["temperature_c"])
    f.add_humidity(3, r["humidity_pct"])
    f.add_analog_input(4, battery_mv / 1000)
    return bytes(f)


def batches(readings: list[dict], size: int) -> list[bytes]:
    """Frames of `size` readings; a frame over 51 bytes (DR0) is split, as the node does."""
    frames = []
    i = 0
    while i < len(readings):
        n = min(size, len(readings) - i)
        while True:
            data = codec.encode_batch(
                {"interval_min": 15, "battery_mv": 3700, "flags": 0, "readings": readings[i : i + n]}
            )
            if len(data) <= airtime.max_payload(0) or n == 1:
                break
            n -= 1
        frames.append(data)
        i += n
    return frames


def rate(fn, items, seconds: float = 0.4) -> float:
    """Items per second, repeating over `items` for about `seconds`."""
    count = 0
    start = time.perf_counter()
    while True:
        for it in items:
            fn(it)
        count += len(items)
        elapsed = time.perf_counter() - start
        if elapsed > seconds:
            return count / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=96, help="readings per day (96 = every 15 min)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    readings = day_of_readings(args.readings, args.seed)
    n = len(readings)
    single = [codec.encode_measurement(dict(r, battery_mv=3700, flags=0)) for r in readings]
    schemes = [("kumpel fPort 1, one reading per frame", single)]
    for size in (8, 16, 32):
        schemes.append((f"kumpel fPort 2, batches of {size}", batches(readings, size)))
    schemes.append(("Cayenne LPP, distance as analog input", [lpp_frame(r, 3700, False) for r in readings]))
    schemes.append(("Cayenne LPP, distance type", [lpp_frame(r, 3700, True) for r in readings]))

    status_ms = {sf: airtime.time_on_air_ms(STATUS_BYTES, sf) for sf in (7, 12)}
    print(
        f"{n} readings (one day at 15-minute sampling); "
        f"airtime per day includes one {STATUS_BYTES}-byte status"
    )
    print(
        f"{'scheme':42} {'frames':>6} {'B/frame':>8} {'B/reading':>9} {'ToA SF7':>9} {'ToA SF12':>9} "
        f"{'day SF7':>8} {'day SF12':>9}"
    )
    for name, frames in schemes:
        total = sum(len(f) for f in frames)
        toa7 = sum(airtime.time_on_air_ms(len(f), 7) for f in frames)
        toa12 = sum(airtime.time_on_air_ms(len(f), 12) for f in frames)
        day7 = (toa7 + status_ms[7]) / 1000
        day12 = (toa12 + status_ms[12]) / 1000
        budget = "" if day12 <= 30 else "  over 30 s fair use"
        print(
            f"{name:42} {len(frames):>6} {total / len(frames):>8.1f} {total / n:>9.2f} "
            f"{toa7 / len(frames):>7.1f}ms {toa12 / len(frames):>7.1f}ms {day7:>7.2f}s {day12:>8.2f}s{budget}"
        )

    # Speed: per-reading encode and decode, ours (fPort 1) vs pycayennelpp building/parsing the same reading.
    enc_ours = rate(lambda r: codec.encode_measurement(dict(r, battery_mv=3700, flags=0)), readings)
    enc_lpp = rate(lambda r: lpp_frame(r, 3700, False), readings)
    lpp_bytes = [lpp_frame(r, 3700, False) for r in readings]
    dec_ours = rate(lambda b: codec.decode_uplink(1, b), single)
    dec_lpp = rate(lambda b: [d.value for d in LppFrame().from_bytes(b).data], lpp_bytes)
    batch16 = batches(readings, 16)
    dec_batch = rate(lambda b: codec.decode_uplink(2, b), batch16) * n / len(batch16)
    print()
    print(
        f"encode: kumpel {enc_ours:,.0f} readings/s, pycayennelpp {enc_lpp:,.0f}/s "
        f"-> ratio {enc_ours / enc_lpp:.2f}x"
    )
    print(
        f"decode: kumpel {dec_ours:,.0f} readings/s, pycayennelpp {dec_lpp:,.0f}/s "
        f"-> ratio {dec_ours / dec_lpp:.2f}x"
    )
    print(f"decode batches of 16: {dec_batch:,.0f} readings/s ({dec_batch / dec_lpp:.2f}x pycayennelpp)")


if __name__ == "__main__":
    main()
