"""Read-only queries the pages need and fleet.services does not offer: the filtered node list, the latest
reading per node, chart series, group names. No business rules here: states and reasons come from the
health the fleet computed (Device.health_*), thresholds from the fleet's settings.
"""

from datetime import datetime, timedelta

from sqlalchemy import Float, String, case, cast, func, literal_column, or_, true
from sqlmodel import Session, select

from fleet.models import (
    Alert,
    DesiredConfig,
    Device,
    Downlink,
    Group,
    GroupMember,
    MaintenanceNote,
    Reading,
    ReportedConfig,
    Rollout,
    StatusReport,
    UnknownDevice,
    Uplink,
)
from fleet.services import health
from fleet.web import fleetdata
from protocols import identity

LIST_LIMIT = 100  # a phone list longer than this is a search problem, not a scrolling one
SCAN_PAGE = 500
MAX_SCAN = 20_000  # battery/bin filters look at this many worst-first nodes at most


def _battery_low(reading: Reading | None, battery_low_mv: int) -> bool:
    return reading is not None and reading.battery_mv is not None and reading.battery_mv < battery_low_mv


def _bin_full(reading: Reading | None, full_pct: int) -> bool:
    if reading is None:
        return False
    return (reading.fill_pct is not None and reading.fill_pct >= full_pct) or "bin_full" in (
        reading.flags or []
    )


class NodeFilter:
    """What the overview's filter form asks for; parsed leniently (a bad value is ignored, not a 500)."""

    __slots__ = ("q", "state", "group", "battery_low", "bin_full", "silent_h")

    def __init__(
        self,
        q: str = "",
        state: str = "",
        group: str = "",
        battery_low: bool = False,
        bin_full: bool = False,
        silent_h: int | None = None,
    ):
        self.q = q.strip()[:64]
        self.state = state
        self.group = group
        self.battery_low = battery_low
        self.bin_full = bin_full
        self.silent_h = silent_h

    @property
    def active(self) -> bool:
        return bool(self.q or self.state or self.group or self.battery_low or self.bin_full or self.silent_h)


def latest_readings(db: Session, device_ids: list[int]) -> dict[int, Reading]:
    """The newest reading of each given node (one query, not one per node)."""
    if not device_ids:
        return {}
    newest = (
        select(Reading.device_id, func.max(Reading.measured_at).label("at"))
        .where(Reading.device_id.in_(device_ids))
        .group_by(Reading.device_id)
        .subquery()
    )
    rows = db.exec(
        select(Reading).join(
            newest, (Reading.device_id == newest.c.device_id) & (Reading.measured_at == newest.c.at)
        )
    )
    return {r.device_id: r for r in rows}


def group_names(db: Session) -> list[str]:
    """Groups and districts, the two ways a city splits its bins, for the filter drop-down."""
    names = set(db.exec(select(Group.name)).all())
    names.update(d for d in db.exec(select(Device.district).distinct()).all() if d)
    return sorted(names, key=str.casefold)


def groups_of(db: Session, device_id: int) -> list[str]:
    return list(
        db.exec(
            select(Group.name)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.device_id == device_id)
            .order_by(GroupMember.position)
        ).all()
    )


def find_nodes(
    db: Session, f: NodeFilter, now: datetime, battery_low_mv: int, full_pct: int
) -> list[tuple[Device, str, Reading | None]]:
    """Nodes matching the filter, worst first, each with its state now (the health service's rule, applied
    in SQL) and its newest reading."""
    status = fleetdata.effective_status(now)
    rank = case(*((status == name, value) for name, value in health.RANK.items()), else_=0)
    query = select(Device, status)
    if f.q:
        like = f"%{f.q.replace('%', '').replace('_', '').lower()}%"
        query = query.where(
            or_(
                func.lower(Device.dev_eui).like(like),
                func.lower(Device.name).like(like),
                func.lower(Device.street).like(like),
            )
        )
    if f.state:
        query = query.where(status == f.state)
    if f.group:
        in_group = (
            select(GroupMember.device_id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(Group.name == f.group)
        )
        query = query.where(or_(Device.id.in_(in_group), Device.district == f.group))
    if f.silent_h:
        cutoff = now - timedelta(hours=f.silent_h)
        query = query.where(or_(Device.last_seen_at.is_(None), Device.last_seen_at < cutoff))
    query = query.order_by(rank.desc(), Device.last_seen_at.asc(), Device.dev_eui)
    rows: list[tuple[Device, str, Reading | None]] = []
    by_reading = f.battery_low or f.bin_full  # these need the newest reading: filtered page by page
    page_size = SCAN_PAGE if by_reading else LIST_LIMIT
    for offset in range(0, MAX_SCAN if by_reading else LIST_LIMIT, page_size):
        found = list(db.exec(query.offset(offset).limit(page_size)).all())
        readings = latest_readings(db, [device.id for device, _ in found])
        for device, state in found:
            reading = readings.get(device.id)
            if f.battery_low and not _battery_low(reading, battery_low_mv):
                continue
            if f.bin_full and not _bin_full(reading, full_pct):
                continue
            rows.append((device, state, reading))
        if len(rows) >= LIST_LIMIT or len(found) < page_size:
            break
    return rows[:LIST_LIMIT]


def open_alerts(db: Session, limit: int = 50) -> list[tuple[Alert, Device]]:
    """Open alerts, critical before warning, oldest first within a severity: what to drive to first."""
    critical_first = case((Alert.severity == "critical", 0), else_=1)
    query = (
        select(Alert, Device)
        .join(Device, Device.id == Alert.device_id)
        .where(Alert.closed_at.is_(None))
        .order_by(critical_first, Alert.opened_at.asc())
        .limit(limit)
    )
    return list(db.exec(query).all())


RECENT_ALARM_DAYS = 7


def recent_alarms(
    db: Session, since: datetime, device_id: int | None = None, cleared_only: bool = False, limit: int = 20
) -> list[tuple[Alert, Device]]:
    """Alerts that were open at some time since `since` (cleared ones too), newest first: a fire alarm that
    cleared overnight is still news in the morning."""
    query = (
        select(Alert, Device)
        .join(Device, Device.id == Alert.device_id)
        .where(or_(Alert.closed_at.is_(None), Alert.closed_at >= since))
    )
    if device_id is not None:
        query = query.where(Alert.device_id == device_id)
    if cleared_only:
        query = query.where(Alert.closed_at.is_not(None))
    return list(db.exec(query.order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)).all())


def series(db: Session, device_id: int, start: datetime) -> list[Reading]:
    """Readings since `start`, oldest first, for the charts."""
    query = (
        select(Reading)
        .where(Reading.device_id == device_id, Reading.measured_at >= start)
        .order_by(Reading.measured_at)
    )
    return list(db.exec(query))


def last_known_fill(db: Session, device_id: int) -> float | None:
    """The newest fill level actually measured (readings without an echo have none)."""
    query = (
        select(Reading.fill_pct)
        .where(Reading.device_id == device_id, Reading.fill_pct.is_not(None))
        .order_by(Reading.measured_at.desc())
        .limit(1)
    )
    return db.exec(query).first()


def device_by_eui(db: Session, dev_eui: str) -> Device | None:
    return db.exec(select(Device).where(Device.dev_eui == dev_eui)).first()


def latest_uplink(db: Session, device_id: int) -> Uplink | None:
    """The newest uplink that reached us (radio figures come from it)."""
    query = select(Uplink).where(Uplink.device_id == device_id).order_by(Uplink.received_at.desc()).limit(1)
    return db.exec(query).first()


GATEWAYS_SHOWN = 10


def gateways_heard(db: Session, device_id: int, last: int = health.RECENT_UPLINKS) -> tuple[int, list[dict]]:
    """Which gateways heard the node's last `last` uplinks: per gateway its best RSSI and SNR and how many
    of those uplinks it heard, most faithful first. Returns (uplinks looked at, rows).

    One query: the newest uplinks come off the (device_id, received_at) index as a CTE, each one's stored
    rx_info list (one {"gateway_id", "rssi", "snr"} per gateway, as ingest stores it) is unnested with the
    database's JSON table function and grouped by gateway. Only the two JSON spellings differ by dialect.
    The JSON keys are inline constants (not bound parameters) so GROUP BY matches the selected expression.
    """
    recent = (
        select(Uplink.id, Uplink.rx_info)
        .where(Uplink.device_id == device_id)
        .order_by(Uplink.received_at.desc(), Uplink.id.desc())
        .limit(last)
        .cte("recent")
    )
    if db.get_bind().dialect.name == "postgresql":
        # json_array_elements is strict: a NULL (rx_info not a list) gives no rows instead of an error
        only_lists = case((func.json_typeof(recent.c.rx_info) == "array", recent.c.rx_info))
        rx = func.json_array_elements(only_lists).table_valued("value").lateral("rx")

        def field(name: str, type_):  # noqa: ANN001, ANN202
            return cast(rx.c.value.op("->>")(literal_column(f"'{name}'")), type_)
    else:
        rx = func.json_each(recent.c.rx_info).table_valued("value").alias("rx")

        def field(name: str, type_):  # noqa: ANN001, ANN202
            return cast(func.json_extract(rx.c.value, literal_column(f"'$.{name}'")), type_)

    gateway_id = field("gateway_id", String)
    gateway = gateway_id.label("gateway_id")
    heard = func.count(recent.c.id.distinct()).label("heard")
    best_rssi = func.max(field("rssi", Float)).label("rssi")
    best_snr = func.max(field("snr", Float)).label("snr")
    looked_at = select(func.count()).select_from(recent).scalar_subquery().label("looked_at")
    query = (
        select(gateway, best_rssi, best_snr, heard, looked_at)
        .select_from(recent)
        .join(rx, true())
        .where(gateway_id.is_not(None), gateway_id != "")  # TTS may leave a gateway unnamed
        .group_by(gateway_id)
        .order_by(heard.desc(), best_rssi.desc().nulls_last(), gateway)
        .limit(GATEWAYS_SHOWN)
    )
    rows = db.exec(query).all()
    total = rows[0].looked_at if rows else 0
    return total, [{"gateway_id": r.gateway_id, "rssi": r.rssi, "snr": r.snr, "heard": r.heard} for r in rows]


def recent_status_reports(db: Session, device_id: int, limit: int = 20) -> list[StatusReport]:
    query = (
        select(StatusReport)
        .where(StatusReport.device_id == device_id)
        .order_by(StatusReport.received_at.desc())
        .limit(limit)
    )
    return list(db.exec(query))


def recent_fault_readings(db: Session, device_id: int, since: datetime, limit: int = 200) -> list[Reading]:
    """Readings that carried a fault or alarm flag (the flags column is JSON, so filter in Python)."""
    query = (
        select(Reading)
        .where(Reading.device_id == device_id, Reading.measured_at >= since)
        .order_by(Reading.measured_at.desc())
        .limit(limit * 10)
    )
    return [r for r in db.exec(query) if r.flags][:limit]


def recent_decode_errors(db: Session, device_id: int, limit: int = 5) -> list[Uplink]:
    query = (
        select(Uplink)
        .where(Uplink.device_id == device_id, Uplink.decode_error.is_not(None))
        .order_by(Uplink.received_at.desc())
        .limit(limit)
    )
    return list(db.exec(query))


def open_downlinks(db: Session, device_id: int) -> list[Downlink]:
    query = (
        select(Downlink)
        .where(Downlink.device_id == device_id, Downlink.state.in_(("queued", "sent")))
        .order_by(Downlink.created_at)
    )
    return list(db.exec(query))


def desired_and_reported(db: Session, device_id: int) -> tuple[DesiredConfig | None, ReportedConfig | None]:
    desired = db.exec(select(DesiredConfig).where(DesiredConfig.device_id == device_id)).first()
    reported = db.exec(select(ReportedConfig).where(ReportedConfig.device_id == device_id)).first()
    return desired, reported


def maintenance_notes(db: Session, device_id: int, limit: int = 30) -> list[MaintenanceNote]:
    query = (
        select(MaintenanceNote)
        .where(MaintenanceNote.device_id == device_id)
        .order_by(MaintenanceNote.created_at.desc(), MaintenanceNote.id.desc())
        .limit(limit)
    )
    return list(db.exec(query))


def unknown_devices(db: Session, limit: int = 200) -> list[UnknownDevice]:
    query = select(UnknownDevice).order_by(UnknownDevice.last_seen_at.desc()).limit(limit)
    return list(db.exec(query))


def rollout_progress(db: Session, limit: int = 30) -> list[dict]:
    """The newest rollouts with their progress, from the rollout service's own status report."""
    from fleet.services import rollout as rollout_service

    out = []
    for ro in db.exec(select(Rollout).order_by(Rollout.created_at.desc()).limit(limit)):
        st = rollout_service.status(db, ro)
        counts = st["counts"]
        total = sum(counts.values())
        done = counts.get("succeeded", 0) + counts.get("skipped", 0)
        out.append(
            {
                "id": st["id"],
                "group": st["group"] or "?",
                "state": st["state"],
                "batch": st["current_batch"],
                "settings": st["settings"],
                "total": total,
                "done": done,
                "failed": counts.get("failed", 0),
                "pct": round(100 * done / total) if total else 0,
                "halt_reason": st["halt_reason"],
                "created_at": ro.created_at,
                "nodes": st["nodes"],
            }
        )
    return out


def rollout_groups(db: Session) -> list[dict]:
    """Groups a rollout can go to, with their member counts and current config, for the start form."""
    members = (
        select(func.count(GroupMember.device_id))
        .where(GroupMember.group_id == Group.id)
        .correlate(Group)
        .scalar_subquery()
    )
    rows = db.exec(select(Group, members).order_by(func.lower(Group.name), Group.name)).all()
    return [{"name": g.name, "members": count, "config": dict(g.config or {})} for g, count in rows]


def label_devices(
    db: Session, q: str = "", group: str = "", dev_eui: str = "", limit: int = 120
) -> list[Device]:
    """The nodes to print labels for: one DevEUI, a search, a group or district, or everything (capped)."""
    query = select(Device)
    if dev_eui:
        query = query.where(Device.dev_eui == identity.normalize_eui(dev_eui))
    if q.strip():
        like = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Device.dev_eui).like(like),
                func.lower(Device.name).like(like),
                func.lower(Device.street).like(like),
            )
        )
    if group:
        in_group = (
            select(GroupMember.device_id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(Group.name == group)
        )
        query = query.where(or_(Device.id.in_(in_group), Device.district == group))
    return list(db.exec(query.order_by(Device.street, Device.name, Device.dev_eui).limit(limit)))
