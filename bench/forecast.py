"""Fill-forecast error on the emulator's district scenario (run by hand: `python bench/forecast.py`).

The emulator's own physics (tools/emulator/physics.py: fill rate per hour and weekday, emptying schedule,
ultrasonic noise) generates each bin's readings every 15 minutes for WEEKS weeks of the shipped
`district` scenario. The forecast (fleet/services/forecast.py) learns only from readings before each
forecast origin; origins run every 3 hours through the last week (the held-out days). For every origin
whose bin truly crosses 80 % within the next 7 days, the error is |forecast - true crossing| in hours;
a missed crossing (forecast says not within 7 days) and a false alarm are counted apart. Baseline in the
same run: a straight line through the last 24 hours of readings (no emptying pattern).

Options: --weeks N (default 4; the last one is held out), --threshold PCT.
"""

import argparse
import statistics
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet.services.forecast import HORIZON_H, forecast  # noqa: E402
from tools.emulator import scenario as scenarios  # noqa: E402
from tools.emulator.physics import NodeWorld  # noqa: E402

STEP_MIN = 15


def series(spec, scen):  # noqa: ANN001, ANN201
    """(time, fill % as the fleet computes it from the noisy distance, true fill %) every 15 minutes."""
    world, truth_world = NodeWorld(spec, scen), NodeWorld(spec, scen)
    out = []
    for i in range(int(scen.days * 24 * 60 / STEP_MIN) + 1):
        t_us = i * STEP_MIN * 60_000_000
        height = spec.bin.height_cm
        seen = max(0.0, min(100.0, 100.0 * (1.0 - world.distance_cm(t_us) / height)))
        out.append((scen.start + timedelta(microseconds=t_us), round(seen), truth_world.fill_pct(t_us)))
    return out


def linear(history, threshold):  # noqa: ANN001, ANN201
    t1, f1 = history[-1]
    window = [(t, f) for t, f in history if t >= t1 - timedelta(hours=24)]
    t0, f0 = window[0]
    hours = (t1 - t0).total_seconds() / 3600
    rate = (f1 - f0) / hours if hours else 0
    if f1 >= threshold:
        return t1
    if rate <= 0 or (threshold - f1) / rate > HORIZON_H:
        return None
    return t1 + timedelta(hours=(threshold - f1) / rate)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--weeks", type=int, default=4)
    p.add_argument("--threshold", type=float, default=80.0)
    args = p.parse_args()
    base = scenarios.load("district")
    scen = replace(base, days=args.weeks * 7 + HORIZON_H / 24)  # the last week's forecasts need a future
    held_out_from = scen.start + timedelta(days=(args.weeks - 1) * 7)
    held_out_to = scen.start + timedelta(days=args.weeks * 7)
    print(
        f"district scenario ({len(scen.nodes)} bins), {args.weeks} weeks; held out: "
        f"{held_out_from:%Y-%m-%d} .. {held_out_to:%Y-%m-%d}; threshold {args.threshold:.0f} %"
    )
    results = {"forecast": [], "linear": []}
    misses = {"forecast": [0, 0, 0], "linear": [0, 0, 0]}  # missed crossings, false alarms, near misses
    listed = {"forecast": [0, 0, 0], "linear": [0, 0, 0]}  # tomorrow's list: right, wrong, missed
    for spec in scen.nodes:
        data = series(spec, scen)
        for i, (t, _, _) in enumerate(data):
            if not held_out_from <= t < held_out_to or t.minute or t.hour % 3 or data[i][2] >= args.threshold:
                continue  # only origins in the held-out week, every 3 h, with the bin not yet full
            history = [(tt, f) for tt, f, _ in data[max(0, i - 21 * 96) : i + 1]]
            truth = next(
                (
                    tt
                    for tt, _, true in data[i:]
                    if true >= args.threshold and tt <= t + timedelta(hours=HORIZON_H)
                ),
                None,
            )
            guess = forecast(history, args.threshold)
            for name, predicted in (("forecast", guess.full_at if guess else None),
                                    ("linear", linear(history, args.threshold))):  # fmt: skip
                if truth is None and predicted is None:
                    continue
                if t.hour == 18:  # the evening list: full by tomorrow 20:00?
                    due = t + timedelta(hours=26)
                    said, was = predicted is not None and predicted <= due, truth is not None and truth <= due
                    listed[name][0 if said and was else 1 if said else 2 if was else 0] += said or was
                if truth is None:
                    misses[name][1] += 1
                    peak = max(true for _, _, true in data[i : i + HORIZON_H * 60 // STEP_MIN])
                    misses[name][2] += peak >= args.threshold - 5
                elif predicted is None:
                    misses[name][0] += 1
                else:
                    results[name].append(abs((predicted - truth).total_seconds()) / 3600)
    for name, errors in results.items():
        errors.sort()
        print(
            f"  {name:<9} n={len(errors):4d}  median {statistics.median(errors):5.1f} h  mean "
            f"{statistics.fmean(errors):5.1f} h  p90 {errors[int(len(errors) * 0.9)]:5.1f} h  "
            f"missed crossings {misses[name][0]}  false alarms {misses[name][1]} "
            f"({misses[name][2]} of them peaked within 5 points of the threshold)"
        )
        right, wrong, missed = listed[name]
        print(
            f"  {'':<9} tomorrow's list (18:00, full by 20:00 next day): {right} right, {wrong} listed but "
            f"not full, {missed} full but not listed"
        )
    ratio = statistics.median(results["forecast"]) / statistics.median(results["linear"])
    print(f"  median error ratio forecast / linear baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
