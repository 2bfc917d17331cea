"""Desired vs reported configuration (the downlink queue that carries it is fleet.services.downlinks).

Desired = group configs (in membership order) with the node's overrides on top. Whatever differs from
what the node has applied is "pending" and goes out as one config downlink carrying a new version. The
node's config report (fPort 4) for that version is the acknowledgement, not the LoRaWAN ACK: only then
do the accepted values count as applied; rejected keys are kept with the node's reason.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from fleet.models import DesiredConfig, Device, Downlink, Event, Group, GroupMember, ReportedConfig, utcnow
from fleet.services import wire
from fleet.settings import Settings

ACTIVE = ("queued", "sent")
MAX_VERSION = 65535


class ConfigError(ValueError):
    """Settings the fleet refuses to send; the message lists every bad key, and `problems` holds them as
    (name, value, status) for a page that words them in its reader's language."""

    def __init__(self, message: str, problems: list[tuple[str, object, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


def validate(settings: dict) -> dict:
    problems = []
    clean = {}
    for name, value in settings.items():
        if isinstance(value, bool):
            value = int(value)
        status = wire.check_setting(name, value)
        if status != "ok":
            problems.append((name, value, status))
        clean[name] = value
    if problems:
        words = "; ".join(
            f"{name}={value!r}: {status}{_allowed(name, status)}" for name, value, status in problems
        )
        raise ConfigError("refused settings: " + words, problems)
    return clean


def _allowed(name: str, status: str) -> str:
    """What the node would accept instead, so a refusal says how to fix it."""
    if status == "unknown_key":
        return " (known: " + ", ".join(wire.SETTING_NAMES) + ")"
    span = wire.allowed_range(name)
    return f" (allowed {span[0]}..{span[1]})" if span and status in ("out_of_range", "bad_format") else ""


def _desired_row(session: Session, device: Device) -> DesiredConfig:
    row = session.exec(select(DesiredConfig).where(DesiredConfig.device_id == device.id)).first()
    if row is None:
        row = DesiredConfig(device_id=device.id)
        session.add(row)
    return row


def reported_row(session: Session, device: Device) -> ReportedConfig:
    row = session.exec(select(ReportedConfig).where(ReportedConfig.device_id == device.id)).first()
    if row is None:
        row = ReportedConfig(device_id=device.id, version=0, settings={}, key_status={})
        session.add(row)
    return row


def applied_settings(session: Session, device: Device) -> dict:
    """What the node runs: the firmware defaults overlaid with every value it confirmed."""
    applied = wire.defaults()
    row = session.exec(select(ReportedConfig).where(ReportedConfig.device_id == device.id)).first()
    if row:
        applied.update(row.settings or {})
    return applied


def effective_desired(session: Session, device: Device, overrides: dict) -> dict:
    groups = session.exec(
        select(Group)
        .join(GroupMember, col(GroupMember.group_id) == Group.id)
        .where(GroupMember.device_id == device.id)
        .order_by(col(GroupMember.position), col(Group.id))
    ).all()
    merged: dict = {}
    for g in groups:
        merged.update(g.config or {})
    merged.update(overrides or {})
    return merged


def set_overrides(
    session: Session, device: Device, settings: dict, *, replace: bool = False
) -> DesiredConfig:
    clean = validate(settings)
    row = _desired_row(session, device)
    row.overrides = clean if replace else {**(row.overrides or {}), **clean}
    session.add(row)
    return row


def reconcile(
    session: Session,
    device: Device,
    cfg: Settings,
    *,
    now: datetime | None = None,
    rollout_id: int | None = None,
) -> Downlink | None:
    """Recompute desired; if anything is pending and not already on its way, queue one config downlink."""
    now = now or utcnow()
    row = _desired_row(session, device)
    desired = effective_desired(session, device, row.overrides or {})
    if desired != (row.settings or {}):
        row.settings = desired
        row.updated_at = now
    applied = applied_settings(session, device)
    pending = {k: v for k, v in desired.items() if applied.get(k) != v}
    active = session.exec(
        select(Downlink).where(
            Downlink.device_id == device.id, Downlink.kind == "config", col(Downlink.state).in_(ACTIVE)
        )
    ).all()
    for dl in active:
        if dl.settings == pending and pending:
            if rollout_id and dl.rollout_id is None:
                dl.rollout_id = rollout_id
            session.add(row)
            return dl
        dl.state = "superseded"
        dl.updated_at = now
        session.add(dl)
    if not pending:
        session.add(row)
        return None
    reported = reported_row(session, device)
    version = max(row.version, reported.version) + 1
    if version > MAX_VERSION:
        version = 1  # u16 on the wire; the node only compares for equality
    row.version = version
    session.add(row)
    payload = wire.codec.encode_config({"config_version": version, "settings": pending})
    dl = Downlink(
        device_id=device.id,
        kind="config",
        fport=wire.codec.PORT_CONFIG,
        payload=payload,
        config_version=version,
        settings=pending,
        max_attempts=cfg.downlink_max_attempts,
        next_attempt_at=now,
        expires_at=now + timedelta(seconds=cfg.downlink_expiry_s),
        rollout_id=rollout_id,
    )
    session.add(dl)
    session.add(
        Event(
            device_id=device.id,
            kind="config_queued",
            message=f"config v{version}: " + ", ".join(f"{k}={v}" for k, v in sorted(pending.items())),
            data={"settings": pending},
        )
    )
    return dl


def apply_report(session: Session, device: Device, report: dict, now: datetime) -> Downlink | None:
    """A config report (fPort 4): mark accepted values applied, keep rejections, close the downlink."""
    version = report["config_version"]
    entries = report.get("entries") or []
    reported = reported_row(session, device)
    sent = session.exec(
        select(Downlink)
        .where(Downlink.device_id == device.id, Downlink.kind == "config", Downlink.config_version == version)
        .order_by(col(Downlink.id).desc())
    ).first()
    if sent is None and not entries:
        # The node rejected a whole frame (broken header) and still runs `version`.
        last = session.exec(
            select(Downlink)
            .where(
                Downlink.device_id == device.id, Downlink.kind == "config", col(Downlink.state).in_(ACTIVE)
            )
            .order_by(col(Downlink.id).desc())
        ).first()
        if last is not None:
            last.state = "failed"
            last.last_error = f"node rejected the whole config frame and still runs v{version}"
            last.updated_at = now
            session.add(last)
        reported.version = version
        reported.reported_at = now
        session.add(reported)
        return last
    settings = dict(reported.settings or {})
    key_status = dict(reported.key_status or {})
    rejected = []
    for entry in entries:
        name = entry.get("name") or wire.setting_name(entry.get("id", 0)) or f"id{entry.get('id')}"
        key_status[name] = entry["status"]
        if entry["status"] == "ok" and sent is not None and sent.settings and name in sent.settings:
            settings[name] = sent.settings[name]
        elif entry["status"] != "ok":
            rejected.append(f"{name} ({entry['status']})")
    reported.version = version
    reported.settings = settings
    reported.key_status = key_status
    reported.reported_at = now
    session.add(reported)
    device.expected_interval_s = wire.expected_interval_s(wire.defaults() | settings)
    session.add(device)
    if sent is not None and sent.state != "done":
        sent.state = "done"
        sent.last_error = ("rejected: " + ", ".join(rejected)) if rejected else None
        sent.updated_at = now
        session.add(sent)
    session.add(
        Event(
            device_id=device.id,
            kind="config_report",
            message=f"runs v{version}" + (("; rejected " + ", ".join(rejected)) if rejected else ""),
            data={"entries": entries},
        )
    )
    return sent


def apply_status_version(session: Session, device: Device, version: int, now: datetime) -> None:
    """A status frame names the config version the node runs. A lower version than we believe means the
    node lost its config (flash wiped, factory reset): applied falls back to defaults, so it goes pending."""
    reported = reported_row(session, device)
    if version == reported.version:
        return
    if version < reported.version:
        reported.settings = {}
        reported.key_status = {}
        session.add(
            Event(
                device_id=device.id,
                kind="config_lost",
                message=f"node runs v{version}, had v{reported.version}: back to defaults",
            )
        )
    else:
        sent = session.exec(
            select(Downlink).where(Downlink.device_id == device.id, Downlink.config_version == version)
        ).first()
        if sent is not None and sent.settings:
            # The config report got lost but the node adopted this version: its values count as applied.
            reported.settings = {**(reported.settings or {}), **sent.settings}
            if sent.state in ACTIVE:
                sent.state = "done"
                sent.updated_at = now
                session.add(sent)
    reported.version = version
    reported.reported_at = now
    session.add(reported)
    device.expected_interval_s = wire.expected_interval_s(wire.defaults() | (reported.settings or {}))
    session.add(device)
