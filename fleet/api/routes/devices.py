"""Devices: register (AppKey shown once), list, read, change, delete, rotate keys, history."""

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import or_
from sqlmodel import col, select

from fleet.api.deps import AdapterDep, Admin, SessionDep, SettingsDep, Technician, Viewer, device_or_404
from fleet.models import (
    Device,
    Event,
    Group,
    GroupMember,
    MaintenanceNote,
    Reading,
    Uplink,
    Verification,
    utcnow,
)
from fleet.services import health, provisioning, verdict, verification
from fleet.services.provisioning import DeviceIn, ProvisioningError
from protocols import identity

router = APIRouter(prefix="/devices", tags=["devices"])


class LastVerification(BaseModel):
    at: datetime
    ok: bool
    failed: list[str]  # names of the failed checks


class DevicePublic(BaseModel):
    """A node as the API shows it: never the AppKey. `provisioned_at` is None until verify passes;
    `last_verification` is the newest verify run, passed or not (None: never verified)."""

    dev_eui: str
    join_eui: str
    name: str
    hardware_model: str
    board: str
    ultrasonic: str | None
    climate: str | None
    bin_height_cm: int | None
    lat: float | None
    lon: float | None
    street: str
    district: str
    tags: list
    groups: list[str] = []
    lns_registered: bool
    created_at: datetime
    last_seen_at: datetime | None
    health_status: str  # the stored, clock-free verdict (fleet.services.verdict.clock_free)
    health_reasons: list
    state: str  # the state now: the stored verdict combined with connectivity (verdict.TABLE)
    provisioned_at: datetime | None
    last_verification: LastVerification | None


def _row(device: Device, groups: list[str], last: Verification | None) -> dict:
    return {
        **device.model_dump(exclude={"app_key_enc"}),
        "state": verdict.combine(device.health_status, health.connectivity_state(device, utcnow())),
        "groups": groups,
        "last_verification": verification.summary(last),
    }


class DeviceCreated(DevicePublic):
    app_key: str  # shown once, for flashing
    registration: str  # the registration step's outcome: "registered with ..." / "not registered: <where>"


def public(session, device: Device, extra: dict | None = None) -> dict:  # noqa: ANN001
    groups = session.exec(
        select(Group.name)
        .join(GroupMember, col(GroupMember.group_id) == Group.id)
        .where(GroupMember.device_id == device.id)
        .order_by(col(GroupMember.position))
    ).all()
    return {**_row(device, list(groups), verification.latest(session, device.id)), **(extra or {})}


def _fail(exc: ProvisioningError):  # noqa: ANN202
    return HTTPException(exc.status, str(exc))


@router.get("", response_model=list[DevicePublic])
def list_devices(
    session: SessionDep,
    _: Viewer,
    q: str = "",
    group: str = "",
    status: str = "",
    provisioned: bool | None = Query(None, description="true: verify has passed; false: not yet"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[dict]:
    # Each device with its newest verification in the same query (no query per device).
    query = select(Device, Verification).outerjoin(Verification, verification.is_latest())
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(col(Device.dev_eui).ilike(like), col(Device.name).ilike(like), col(Device.street).ilike(like))
        )
    if group:
        query = (
            query.join(GroupMember, col(GroupMember.device_id) == Device.id)
            .join(Group, col(Group.id) == GroupMember.group_id)
            .where(Group.name == group)
        )
    if status:
        query = query.where(verdict.state_sql(utcnow()) == status)
    if provisioned is not None:
        query = query.where(verification.provisioned_filter(provisioned))
    rows = session.exec(query.order_by(col(Device.dev_eui)).offset(offset).limit(limit)).all()
    groups: dict[int, list[str]] = {d.id: [] for d, _ in rows}
    for device_id, name in session.exec(  # one query for all rows' groups, not one per device
        select(GroupMember.device_id, Group.name)
        .join(Group, col(Group.id) == GroupMember.group_id)
        .where(col(GroupMember.device_id).in_(list(groups)))
        .order_by(col(GroupMember.position))
    ).all():
        groups[device_id].append(name)
    return [_row(d, groups[d.id], last) for d, last in rows]


@router.post("", response_model=DeviceCreated, status_code=201)
def add_device(
    body: DeviceIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, who: Technician
) -> dict:
    try:
        device, app_key = provisioning.create_device(session, cfg, adapter, body)
    except ProvisioningError as exc:
        session.rollback()
        raise _fail(exc) from exc
    session.commit()
    session.refresh(device)
    return public(
        session, device, {"app_key": app_key, "registration": provisioning.registration(adapter, device)}
    )


@router.get("/{dev_eui}", response_model=DevicePublic)
def get_device(dev_eui: str, session: SessionDep, _: Viewer) -> dict:
    return public(session, device_or_404(session, dev_eui))


@router.patch("/{dev_eui}", response_model=DevicePublic)
def change_device(
    dev_eui: str, body: DeviceIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    device = device_or_404(session, dev_eui)
    if body.dev_eui and identity.normalize_eui(body.dev_eui) != device.dev_eui:
        raise HTTPException(400, "dev_eui cannot be changed: register a new device instead")
    try:
        provisioning.update_device(session, cfg, adapter, device, body, body.model_fields_set)
    except ProvisioningError as exc:
        session.rollback()
        raise _fail(exc) from exc
    session.commit()
    session.refresh(device)
    return public(session, device)


@router.delete("/{dev_eui}", status_code=204)
def delete_device(dev_eui: str, session: SessionDep, _: Admin) -> None:
    session.delete(device_or_404(session, dev_eui))
    session.commit()


@router.post("/{dev_eui}/keys", response_model=DeviceCreated)
def rotate_keys(
    dev_eui: str, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    """Issue a new AppKey (shown once) and re-register it with the network server."""
    device = device_or_404(session, dev_eui)
    try:
        app_key = provisioning.rotate_key(session, cfg, adapter, device)
    except ProvisioningError as exc:
        session.rollback()
        raise _fail(exc) from exc
    session.commit()
    session.refresh(device)
    return public(
        session, device, {"app_key": app_key, "registration": provisioning.registration(adapter, device)}
    )


@router.post("/{dev_eui}/register", response_model=DevicePublic)
def register(dev_eui: str, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician) -> dict:
    """(Re-)register with the network server, e.g. after it was configured or was down at import."""
    device = device_or_404(session, dev_eui)
    try:
        provisioning.register(session, cfg, adapter, device)
    except (ProvisioningError, ValueError) as exc:
        session.rollback()
        raise HTTPException(getattr(exc, "status", 400), str(exc)) from exc
    session.commit()
    session.refresh(device)
    return public(session, device)


@router.get("/{dev_eui}/uplinks")
def uplinks(
    dev_eui: str, session: SessionDep, _: Viewer, limit: int = Query(50, ge=1, le=1000)
) -> list[dict]:
    device = device_or_404(session, dev_eui)
    rows = session.exec(
        select(Uplink)
        .where(Uplink.device_id == device.id)
        .order_by(col(Uplink.received_at).desc(), col(Uplink.id).desc())
        .limit(limit)
    ).all()
    return [{**u.model_dump(exclude={"data", "device_id"}), "data_hex": bytes(u.data).hex()} for u in rows]


@router.get("/{dev_eui}/readings")
def readings(
    dev_eui: str,
    session: SessionDep,
    _: Viewer,
    since: datetime | None = None,
    limit: int = Query(500, ge=1, le=10000),
) -> list[dict]:
    device = device_or_404(session, dev_eui)
    query = select(Reading).where(Reading.device_id == device.id)
    if since is not None:
        # A time without a zone is taken as UTC (the API speaks UTC throughout).
        query = query.where(Reading.measured_at >= (since if since.tzinfo else since.replace(tzinfo=UTC)))
    rows = session.exec(query.order_by(col(Reading.measured_at).desc()).limit(limit)).all()
    return [r.model_dump(exclude={"device_id"}) for r in rows]


@router.get("/{dev_eui}/events")
def events(
    dev_eui: str, session: SessionDep, _: Viewer, limit: int = Query(100, ge=1, le=1000)
) -> list[dict]:
    device = device_or_404(session, dev_eui)
    rows = session.exec(
        select(Event)
        .where(Event.device_id == device.id)
        .order_by(col(Event.created_at).desc(), col(Event.id).desc())
        .limit(limit)
    ).all()
    return [e.model_dump(exclude={"device_id"}) for e in rows]


class NoteIn(BaseModel):
    text: str


@router.get("/{dev_eui}/notes")
def notes(dev_eui: str, session: SessionDep, _: Viewer) -> list[dict]:
    device = device_or_404(session, dev_eui)
    rows = session.exec(
        select(MaintenanceNote)
        .where(MaintenanceNote.device_id == device.id)
        .order_by(col(MaintenanceNote.created_at).desc())
    ).all()
    return [n.model_dump(exclude={"device_id"}) for n in rows]


@router.post("/{dev_eui}/notes", status_code=201)
def add_note(dev_eui: str, body: NoteIn, session: SessionDep, who: Technician) -> dict:
    device = device_or_404(session, dev_eui)
    text = body.text.strip()
    if not text or len(text) > 2000:
        raise HTTPException(400, "note text must be 1..2000 characters")
    note = MaintenanceNote(device_id=device.id, author=who.name, text=text, created_at=utcnow())
    session.add(note)
    session.commit()
    session.refresh(note)
    return note.model_dump(exclude={"device_id"})
