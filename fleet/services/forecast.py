"""When will this bin be full? A simple, explainable forecast from the bin's own recent history.

The method, in three steps a crew chief can check by hand:
1. Emptying pattern: a drop of at least EMPTIED_DROP_PCT points between two readings is an emptying, at
   the weekday and hour of the later reading. A (weekday, hour) slot counts as a scheduled emptying when
   it happened in at least half of the weeks the history covers.
2. Fill rate: the change between consecutive readings (no emptying between them) per hour of the week
   (Monday 00-01 ... Sunday 23-24), averaged over the weeks; a slot never seen falls back to the same hour
   on any day, then to the bin's overall rate.
3. Walk forward from the newest reading hour by hour: empty at a scheduled slot, add the slot's rate,
   and report the first time the level reaches the full threshold (None: not within the horizon).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Reading

EMPTIED_DROP_PCT = 25.0
HORIZON_H = 7 * 24
HISTORY_DAYS = 28


@dataclass(frozen=True)
class Forecast:
    full_at: datetime | None  # when the level reaches the threshold; None: not within the horizon
    level_now: float
    measured_at: datetime
    emptying_slots: tuple[tuple[int, int], ...]  # (weekday 0 = Monday, hour) of scheduled emptyings
    rate_per_day: float  # the bin's average rise, % a day (for the explanation)
    last_emptied_at: datetime | None = None

    def hours_until_full(self, now: datetime) -> float | None:
        return None if self.full_at is None else max(0.0, (self.full_at - now).total_seconds() / 3600)


def _slot(moment: datetime) -> int:
    return moment.weekday() * 24 + moment.hour


def learn(readings: list[tuple[datetime, float]]) -> tuple[dict[int, float], set[int], float]:
    """Per hour-of-week rates (% an hour), scheduled emptying slots, and the overall rate."""
    rise: dict[int, float] = defaultdict(float)
    hours: dict[int, float] = defaultdict(float)
    emptied: dict[int, set] = defaultdict(set)  # slot -> weeks it happened in
    for (t0, f0), (t1, f1) in zip(readings, readings[1:], strict=False):
        dt = (t1 - t0).total_seconds() / 3600
        if dt <= 0 or dt > 6:  # a gap: nothing to learn about the hours in between
            continue
        if f0 - f1 >= EMPTIED_DROP_PCT:
            emptied[_slot(t1)].add(t1.isocalendar()[:2])
            continue
        rise[_slot(t0)] += f1 - f0  # signed: the sensor's noise cancels out over the weeks
        hours[_slot(t0)] += dt
    rates = {s: rise[s] / hours[s] for s in hours if hours[s] > 0}
    total_h = sum(hours.values())
    overall = sum(rise.values()) / total_h if total_h else 0.0
    span_days = (readings[-1][0] - readings[0][0]).total_seconds() / 86400 if len(readings) > 1 else 0
    weeks = max(1, round(span_days / 7))
    scheduled = {s for s, seen in emptied.items() if len(seen) * 2 >= weeks}
    return rates, scheduled, overall


def forecast(readings: list[tuple[datetime, float]], threshold_pct: float = 80.0) -> Forecast | None:
    """The forecast for one bin from its readings (oldest first, aware datetimes); None without history."""
    readings = [(t, f) for t, f in readings if f is not None]
    if len(readings) < 8:
        return None
    rates, scheduled, overall = learn(readings)
    by_hour: dict[int, list[float]] = defaultdict(list)
    for s, r in rates.items():
        by_hour[s % 24].append(r)
    hour_rate = {h: sum(v) / len(v) for h, v in by_hour.items()}
    t, level = readings[-1]
    start, start_level = t, level
    full_at = None
    if level >= threshold_pct:
        full_at = t
    while full_at is None and t < start + timedelta(hours=HORIZON_H):
        step_end = (t + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        slot = _slot(t)
        rate = rates.get(slot, hour_rate.get(t.hour, overall))
        gain = rate * (step_end - t).total_seconds() / 3600
        if level + gain >= threshold_pct and rate > 0:
            full_at = t + timedelta(hours=(threshold_pct - level) / rate)
            break
        level += gain
        t = step_end
        if _slot(t) in scheduled:  # emptied at the start of this hour
            level = 0.0
    slots = tuple(sorted((s // 24, s % 24) for s in scheduled))
    emptied = [
        t1 for (_, f0), (t1, f1) in zip(readings, readings[1:], strict=False) if f0 - f1 >= EMPTIED_DROP_PCT
    ]
    return Forecast(full_at, start_level, start, slots, overall * 24, emptied[-1] if emptied else None)


def for_device(session: Session, device_id: int, threshold_pct: float, now: datetime) -> Forecast | None:
    """The forecast from the node's last HISTORY_DAYS days of fill readings."""
    rows = session.execute(
        select(Reading.measured_at, Reading.fill_pct)
        .where(
            Reading.device_id == device_id,
            Reading.measured_at >= now - timedelta(days=HISTORY_DAYS),
            Reading.fill_pct.is_not(None),
        )
        .order_by(Reading.measured_at)
    ).all()
    return forecast([(_aware(t), float(f)) for t, f in rows], threshold_pct)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
