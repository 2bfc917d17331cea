"""The health verdict: what is wrong with a node (reasons) and what that makes its state.

One place decides. `reasons()` turns the facts the health service gathered into records — a code, a
severity and the numbers behind it — with every threshold taken from Settings. `combine()` is the one
table that turns the clock-free verdict (stored on the Device row at ingest time) and the node's
connectivity now into its state; `state_sql()` is the same table as an SQL expression, so the overview,
the list filters and the node page can never disagree. Sentences are not decided here: the API's English
`message` is rendered from the record by `message()`, the web pages translate by code and params.
"""

from dataclasses import dataclass, field

from sqlalchemy import and_, case
from sqlmodel import col

from fleet.models import Device
from fleet.settings import Settings

RANK = {"ok": 0, "unknown": 1, "warning": 2, "offline": 3, "critical": 4}
CLOCK_CODES = frozenset(("offline", "late", "never_seen"))  # depend on the time of reading, not on uplinks
SENSOR_FAULTS = ("ultrasonic_fault", "climate_fault")
# Citizens report the bin full, its sensor says at most this: the sensor is suspect (issue 16).
SUSPECT_FILL_PCT = 20
# Which reason explains an open alert of each kind (an alert nothing explains any more is "alert_open").
ALERT_EXPLAINED_BY = {
    "offline": ("offline",),
    "fire_alarm": ("fire_alarm",),
    "bin_full": ("bin_full", "no_echo"),
    "sensor_fault": SENSOR_FAULTS,
    "decode_error": ("decode_errors",),
    "battery_low": ("battery_low",),
}


@dataclass(frozen=True)
class Reason:
    code: str
    severity: str  # warning | critical
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "params": self.params, "message": message(self)}


@dataclass(frozen=True)
class Thresholds:
    """The limits the verdict uses, all from Settings (KUMPEL_*)."""

    battery_low_mv: int
    battery_empty_mv: int
    battery_warning_days: float
    loss_warning_pct: float
    loss_min_expected: int
    stuck_readings: int

    @classmethod
    def of(cls, cfg: Settings) -> "Thresholds":
        return cls(
            battery_low_mv=cfg.battery_low_mv,
            battery_empty_mv=cfg.battery_empty_mv,
            battery_warning_days=cfg.battery_warning_days,
            loss_warning_pct=cfg.loss_warning_pct,
            loss_min_expected=cfg.loss_min_expected,
            stuck_readings=cfg.stuck_readings,
        )


@dataclass
class Facts:
    """What the health service read for one node; each field is what one reason needs."""

    connectivity: str = "never"  # never | online | late | offline
    silent_s: float | None = None
    expected_s: int | None = None
    loss: dict = field(default_factory=dict)  # packet_loss(): loss_pct, expected, ...
    decode_errors: int = 0
    recent_uplinks: int = 0
    latest: dict | None = None  # newest reading: flags, fill_pct, no_echo, temperature_c, ...
    faults: dict = field(default_factory=dict)  # fault flag -> count over the recent readings
    recent_readings: int = 0
    stuck: tuple | None = None  # (distance_cm, temperature_c) repeated stuck_readings times, or None
    battery_mv: int | None = None
    days_left: float | None = None
    reboots: dict = field(default_factory=dict)  # unexpected reset cause -> count in 14 days
    rejected: dict = field(default_factory=dict)  # setting -> key status the node reported
    pending: list = field(default_factory=list)  # settings desired but not applied yet
    open_alerts: tuple = ()  # kinds of this node's open alerts
    citizen_full_reports: int = (
        0  # open "full" citizen reports of the last day, older than the newest reading
    )


def reasons(f: Facts, th: Thresholds) -> list[Reason]:
    """Every reason this node needs attention, in the order a crew reads them."""
    out: list[Reason] = []
    clock = {"silent_s": round(f.silent_s) if f.silent_s is not None else None, "expected_s": f.expected_s}
    if f.connectivity == "offline":
        out.append(Reason("offline", "critical", clock))
    elif f.connectivity == "late":
        out.append(Reason("late", "warning", clock))
    elif f.connectivity == "never":
        out.append(Reason("never_seen", "warning"))
    loss_pct = f.loss.get("loss_pct")
    if (
        loss_pct is not None
        and loss_pct >= th.loss_warning_pct
        and f.loss["expected"] >= th.loss_min_expected
    ):
        out.append(Reason("packet_loss", "warning", {"loss_pct": loss_pct}))
    if f.decode_errors:
        out.append(Reason("decode_errors", "warning", {"count": f.decode_errors, "of": f.recent_uplinks}))
    latest = f.latest or {}
    flags = set(latest.get("flags") or ())
    for name in SENSOR_FAULTS:
        if name in flags:
            out.append(Reason(name, "warning", {"count": f.faults.get(name, 0), "of": f.recent_readings}))
    if f.stuck is not None:
        distance, temperature = f.stuck
        out.append(
            Reason(
                "stuck",
                "warning",
                {"readings": th.stuck_readings, "distance_cm": distance, "temperature_c": temperature},
            )
        )
    if "fire_alarm" in flags:
        out.append(Reason("fire_alarm", "critical", {"temperature_c": latest.get("temperature_c")}))
    if latest.get("no_echo"):
        # No echo: an overfull bin (the lid too close) or a blocked sensor. The fill is unknown, not full.
        out.append(Reason("no_echo", "warning", {"bin_full_flag": "bin_full" in flags}))
    elif "bin_full" in flags:
        out.append(Reason("bin_full", "warning", {"fill_pct": latest.get("fill_pct")}))
    elif (
        f.citizen_full_reports
        and latest.get("fill_pct") is not None
        and latest["fill_pct"] <= SUSPECT_FILL_PCT
    ):
        params = {"reports": f.citizen_full_reports, "fill_pct": latest["fill_pct"]}
        out.append(Reason("sensor_suspect", "warning", params))
    if f.battery_mv is not None and f.battery_mv < th.battery_low_mv:
        out.append(Reason("battery_low", "critical", {"battery_mv": f.battery_mv, "days_left": f.days_left}))
    elif f.days_left is not None and f.days_left < th.battery_warning_days:
        out.append(
            Reason("battery_days_left", "warning", {"battery_mv": f.battery_mv, "days_left": f.days_left})
        )
    if f.reboots.get("watchdog") or f.reboots.get("brownout"):
        out.append(Reason("reboots", "warning", {"by_cause": dict(sorted(f.reboots.items()))}))
    if f.rejected:
        out.append(Reason("config_rejected", "warning", {"keys": dict(sorted(f.rejected.items()))}))
    if f.pending:
        out.append(Reason("config_pending", "warning", {"keys": sorted(f.pending)}))
    codes = {r.code for r in out}
    unexplained = sorted(k for k in f.open_alerts if not codes.intersection(ALERT_EXPLAINED_BY.get(k, (k,))))
    if unexplained:
        # Inside an alert's hysteresis band: not a fault any more, not cleared yet. Keep it visible.
        out.append(Reason("alert_open", "warning", {"kinds": unexplained}))
    return out


def clock_free(found: list[Reason]) -> str:
    """The verdict stored on the Device row: the reasons that do not change with the clock."""
    severities = {r.severity for r in found if r.code not in CLOCK_CODES}
    if "critical" in severities:
        return "critical"
    return "warning" if severities else "ok"


# The verdict table: (stored clock-free verdict or None for any, connectivity now or None for any) -> state.
# First match wins; no match: the stored verdict. combine() and state_sql() both read it.
TABLE = (
    (None, "never", "unknown"),
    ("critical", None, "critical"),
    (None, "offline", "offline"),
    (None, "late", "warning"),
)


def combine(stored: str, connectivity: str) -> str:
    for want_stored, want_conn, state in TABLE:
        if want_stored in (None, stored) and want_conn in (None, connectivity):
            return state
    return stored


def connectivity_sql(now):  # noqa: ANN001, ANN201 (an SQL expression)
    """never | offline | late | online at `now`, from the deadlines ingest set on the Device row."""
    return case(
        (col(Device.last_seen_at).is_(None), "never"),
        (col(Device.offline_at) <= now, "offline"),
        (col(Device.late_at) <= now, "late"),
        else_="online",
    )


def state_sql(now):  # noqa: ANN001, ANN201 (an SQL expression)
    """combine() as SQL over the Device rows: the state now, for counting, filtering and ordering."""
    conn = connectivity_sql(now)
    whens = []
    for want_stored, want_conn, state in TABLE:
        conds = []
        if want_stored is not None:
            conds.append(Device.health_status == want_stored)
        if want_conn is not None:
            conds.append(conn == want_conn)
        whens.append((and_(*conds), state))
    return case(*whens, else_=Device.health_status)


def rank_sql(state):  # noqa: ANN001, ANN201
    return case(*((state == name, value) for name, value in RANK.items()), else_=0)


# --- English sentences for the API and the CLI (the web pages translate by code instead) ----------------
def duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def _battery(p: dict) -> str:
    text = f"battery {p['battery_mv'] / 1000:.2f} V" if p.get("battery_mv") is not None else "battery"
    return text + (f", about {p['days_left']:.0f} days left" if p.get("days_left") is not None else "")


_MESSAGES = {
    "sensor_suspect": lambda p: (
        f"{p['reports']} citizen report(s) say full, the sensor says {p['fill_pct']} %"
    ),
    "offline": lambda p: (
        f"no uplink for {duration(p['silent_s'] or 0)}, expected every {duration(p['expected_s'] or 0)}"
    ),
    "late": lambda p: (
        f"no uplink for {duration(p['silent_s'] or 0)}, expected every {duration(p['expected_s'] or 0)}"
    ),
    "never_seen": lambda p: "no uplink received yet",
    "packet_loss": lambda p: f"{p['loss_pct']} % of uplinks lost",
    "decode_errors": lambda p: f"{p['count']} of the last {p['of']} uplinks could not be decoded",
    "ultrasonic_fault": lambda p: (
        f"ultrasonic fault in the latest reading ({p['count']} of the last {p['of']})"
    ),
    "climate_fault": lambda p: f"climate fault in the latest reading ({p['count']} of the last {p['of']})",
    "stuck": lambda p: (
        f"the last {p['readings']} readings are identical ({p['distance_cm']} cm, {p['temperature_c']} °C)"
    ),
    "fire_alarm": lambda p: f"fire alarm: {p['temperature_c']} °C",
    "no_echo": lambda p: "no echo: bin may be overfull or the sensor blocked",
    "bin_full": lambda p: f"bin full: {p['fill_pct']} %" if p.get("fill_pct") is not None else "bin full",
    "battery_low": _battery,
    "battery_days_left": _battery,
    "reboots": lambda p: (
        "unexpected resets in 14 days: " + ", ".join(f"{k} {v}" for k, v in p["by_cause"].items())
    ),
    "config_rejected": lambda p: "node rejected: " + ", ".join(f"{k} ({v})" for k, v in p["keys"].items()),
    "config_pending": lambda p: "config not yet applied: " + ", ".join(p["keys"]),
    "alert_open": lambda p: "alert still open: " + ", ".join(p["kinds"]),
}


def message(reason: Reason) -> str:
    render = _MESSAGES.get(reason.code)
    return render(reason.params) if render else reason.code.replace("_", " ")
