"""Provisioning: register nodes (keys generated with `secrets`), CSV import, network-server registration.

The AppKey is encrypted at rest and returned only by the call that creates or rotates it, so it can be
flashed once and is never readable again through list/read endpoints.
"""

import csv
import io

from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from fleet.lns.base import IngestError, LnsError, NetworkServer, norm_eui
from fleet.models import Device, Event, Group, GroupMember
from fleet.security import decrypt_app_key, encrypt_app_key, new_app_key, new_eui
from fleet.services import config as config_service
from fleet.services import verification
from fleet.settings import Settings
from protocols.hardware import BOARDS, CLIMATE, ULTRASONIC

MAX_IMPORT_ROWS = 10_000


class ProvisioningError(ValueError):
    """A refusal: the English message for the API and CLI, and (where known) a problem record — code,
    field, params — that the pages word in their reader's language."""

    def __init__(
        self, message: str, status: int = 400, *, code: str = "", field: str = "", params: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = {"code": code, "field": field, "params": params or {}} if code else None


class DeviceIn(BaseModel):
    """What a technician (or a vendor's CSV) says about a node."""

    dev_eui: str | None = None
    join_eui: str | None = None
    app_key: str | None = None
    name: str = Field(default="", max_length=120)
    hardware_model: str = Field(default="", max_length=60)
    board: str = "devkit_rak3172"
    ultrasonic: str | None = "a02yyuw"
    climate: str | None = "shtc3"
    bin_height_cm: int | None = Field(default=None, ge=20, le=1000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    street: str = Field(default="", max_length=200)
    district: str = Field(default="", max_length=80)
    groups: list[str] = []
    tags: list[str] = []

    @field_validator("app_key")
    @classmethod
    def _app_key(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        s = v.replace(" ", "").upper()
        if len(s) != 32 or any(c not in "0123456789ABCDEF" for c in s):
            raise ValueError("app_key must be 32 hex digits")
        return s

    @field_validator("board")
    @classmethod
    def _board(cls, v: str) -> str:
        if v not in BOARDS:
            raise ValueError(f"board must be one of {', '.join(BOARDS)}")
        return v

    @field_validator("ultrasonic")
    @classmethod
    def _ultrasonic(cls, v: str | None) -> str | None:
        if v in (None, "", "none"):
            return None
        if v not in ULTRASONIC:
            raise ValueError(f"ultrasonic must be one of {', '.join(ULTRASONIC)} or empty")
        return v

    @field_validator("climate")
    @classmethod
    def _climate(cls, v: str | None) -> str | None:
        if v in (None, "", "none"):
            return None
        if v not in CLIMATE:
            raise ValueError(f"climate must be one of {', '.join(CLIMATE)} or empty")
        return v


def _eui(value: str | None, what: str) -> str:
    try:
        return norm_eui(value, what)
    except IngestError as exc:
        raise ProvisioningError(
            str(exc), code="not_hex", field=what, params={"value": str(value), "digits": 16}
        ) from exc


def _join_groups(session: Session, device: Device, names: list[str]) -> None:
    for pos, name in enumerate(n.strip() for n in names if n.strip()):
        group = session.exec(select(Group).where(Group.name == name)).first()
        if group is None:
            group = Group(name=name)
            session.add(group)
            session.flush()
        exists = session.get(GroupMember, (group.id, device.id))
        if exists is None:
            session.add(GroupMember(group_id=group.id, device_id=device.id, position=pos))


def _register(adapter: NetworkServer, device: Device, app_key: str) -> bool:
    """The registration step. Where the LNS adapter cannot register (KUMPEL_LNS none, ttn, chirpstack-mqtt)
    the device is stored unregistered and `registration` says where to do it; where it can (ChirpStack
    gRPC) a refusal is a 502 and nothing is stored, so the fleet never holds a node the LNS rejected."""
    if not adapter.registers:
        return False
    try:
        adapter.register_device(
            dev_eui=device.dev_eui, join_eui=device.join_eui, app_key=app_key, name=device.name
        )
    except LnsError as exc:
        raise ProvisioningError(f"network server registration failed, nothing stored: {exc}", 502) from exc
    return True


def registration(adapter: NetworkServer, device: Device) -> str:
    """The outcome of the registration step, in words for the technician."""
    if device.lns_registered:
        return f"registered with {adapter.name}"
    return f"not registered: {adapter.manual_registration}"


def create_device(
    session: Session, cfg: Settings, adapter: NetworkServer, data: DeviceIn
) -> tuple[Device, str]:
    """New node; returns (device, app_key). Raises ProvisioningError (409 when the DevEUI exists)."""
    dev_eui = _eui(data.dev_eui, "dev_eui") if data.dev_eui else new_eui()
    join_eui = _eui(data.join_eui, "join_eui") if data.join_eui else "0000000000000000"
    if session.exec(select(Device.id).where(Device.dev_eui == dev_eui)).first() is not None:
        raise ProvisioningError(f"device {dev_eui} already exists", 409)
    app_key = data.app_key or new_app_key()
    fields = data.model_dump(exclude={"dev_eui", "join_eui", "app_key", "groups", "tags"})
    device = Device(
        dev_eui=dev_eui,
        join_eui=join_eui,
        app_key_enc=encrypt_app_key(cfg.secret_key, app_key),
        tags=list(data.tags),
        **fields,
    )
    session.add(device)
    session.flush()
    _join_groups(session, device, data.groups)
    if data.bin_height_cm is not None:
        config_service.set_overrides(session, device, {"bin_height_cm": data.bin_height_cm})
    session.flush()
    config_service.reconcile(session, device, cfg)
    device.lns_registered = _register(adapter, device, app_key)
    session.add(
        Event(
            device_id=device.id,
            kind="provisioned",
            message=f"{dev_eui} created; {registration(adapter, device)}",
        )
    )
    return device, app_key


def update_device(
    session: Session,
    cfg: Settings,
    adapter: NetworkServer,
    device: Device,
    data: DeviceIn,
    fields_set: set[str],
) -> str | None:
    """Change what was given; a new app_key is re-registered. Returns the new AppKey if one was set."""
    for name in fields_set - {"dev_eui", "app_key", "groups", "tags"}:
        value = getattr(data, name)
        if name == "join_eui":
            value = _eui(value, "join_eui")
        setattr(device, name, value)
    if "tags" in fields_set:
        device.tags = list(data.tags)
    if "groups" in fields_set:
        _join_groups(session, device, data.groups)
    if "bin_height_cm" in fields_set and data.bin_height_cm is not None:
        config_service.set_overrides(session, device, {"bin_height_cm": data.bin_height_cm})
        session.flush()
        config_service.reconcile(session, device, cfg)
    new_key = None
    if "app_key" in fields_set and data.app_key:
        new_key = data.app_key
        if not _holds_key(cfg, device, new_key):  # a CSV re-import repeats the key it had
            verification.clear_provisioned(session, device, "AppKey changed: verify again")
        device.app_key_enc = encrypt_app_key(cfg.secret_key, new_key)
        device.lns_registered = _register(adapter, device, new_key)
    session.add(device)
    return new_key


def _holds_key(cfg: Settings, device: Device, app_key: str) -> bool:
    try:
        return decrypt_app_key(cfg.secret_key, device.app_key_enc) == app_key
    except ValueError:  # stored under another secret key: treat as a different key
        return False


def rotate_key(session: Session, cfg: Settings, adapter: NetworkServer, device: Device) -> str:
    app_key = new_app_key()
    device.app_key_enc = encrypt_app_key(cfg.secret_key, app_key)
    device.lns_registered = _register(adapter, device, app_key)
    verification.clear_provisioned(session, device, "new AppKey issued: verify again")
    session.add(device)
    session.add(Event(device_id=device.id, kind="key_rotated", message="new AppKey issued"))
    return app_key


def register(session: Session, cfg: Settings, adapter: NetworkServer, device: Device) -> None:
    """(Re-)register an existing node with the network server, e.g. after the LNS was configured."""
    if not adapter.registers:
        raise ProvisioningError(adapter.manual_registration, 409)
    device.lns_registered = _register(adapter, device, decrypt_app_key(cfg.secret_key, device.app_key_enc))
    session.add(device)


CSV_COLUMNS = (
    "dev_eui",
    "join_eui",
    "app_key",
    "name",
    "hardware_model",
    "board",
    "ultrasonic",
    "climate",
    "bin_height_cm",
    "lat",
    "lon",
    "street",
    "district",
    "groups",
    "tags",
)


def import_csv(session: Session, cfg: Settings, adapter: NetworkServer, text: str) -> list[dict]:
    """Create or update one node per row, each row all-or-nothing (a savepoint per row).

    Returns [{"row", "dev_eui", "result": created|updated|rejected, "reason"?, "app_key"?}]; the AppKey is
    included only for created rows (shown once). Separators `,` or `;` (sniffed); groups/tags split on `|`.
    """
    if "\x00" in text:
        raise ProvisioningError("CSV contains a NUL character: is it a text file?")
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "dev_eui" not in header:
        raise ProvisioningError(
            "CSV needs a header row with at least a dev_eui column; known columns: " + ", ".join(CSV_COLUMNS)
        )
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise ProvisioningError(f"unknown CSV columns: {', '.join(unknown)}; known: {', '.join(CSV_COLUMNS)}")
    reader.fieldnames = header
    results: list[dict] = []
    seen: set[str] = set()
    for n, raw in enumerate(reader, start=2):  # row 1 is the header
        if n - 1 > MAX_IMPORT_ROWS:
            raise ProvisioningError(f"CSV has more than {MAX_IMPORT_ROWS} rows: split it")
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        eui_text = row.get("dev_eui", "")
        result: dict = {"row": n, "dev_eui": eui_text}
        try:
            data = _row_to_device(row)
            dev_eui = _eui(data.dev_eui, "dev_eui")
            result["dev_eui"] = dev_eui
            if dev_eui in seen:
                raise ProvisioningError(
                    f"dev_eui {dev_eui} appears twice in this file",
                    code="twice",
                    field="dev_eui",
                    params={"value": dev_eui},
                )
            seen.add(dev_eui)
            with session.begin_nested():
                existing = session.exec(select(Device).where(Device.dev_eui == dev_eui)).first()
                if existing is None:
                    device, app_key = create_device(session, cfg, adapter, data)
                    result.update(result="created", app_key=app_key)
                else:
                    given = {k for k, v in row.items() if v != "" and k != "dev_eui"}
                    update_device(session, cfg, adapter, existing, data, given)
                    result["result"] = "updated"
                    device = existing
                result["registration"] = registration(adapter, device)
        except (ProvisioningError, ValueError) as exc:
            result.update(result="rejected", reason=_reason(exc), problems=problems(exc))
        results.append(result)
    return results


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return str(exc)


# For a refused name of a part: what the fleet knows instead (protocols/hardware.py).
_ALLOWED = {"board": BOARDS, "ultrasonic": ULTRASONIC, "climate": CLIMATE}
_SCALARS = (str, int, float)


def problems(exc: Exception) -> list[dict]:
    """A refused row as problem records {code, field, params}: pydantic's error types (e.g.
    greater_than_equal with params ge) or our own codes (not_hex, twice, empty, one_of; other: message)."""
    if isinstance(exc, ValidationError):
        out = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"])
            params = {k: v for k, v in (e.get("ctx") or {}).items() if isinstance(v, _SCALARS)}
            if isinstance(e.get("input"), _SCALARS):
                params["value"] = e["input"]
            code = e["type"]
            if code == "value_error" and field in _ALLOWED:
                code, params["allowed"] = "one_of", ", ".join(_ALLOWED[field])
            elif code == "value_error" and field == "app_key":
                code, params["digits"] = "not_hex", 32
            out.append({"code": code, "field": field, "params": params})
        return out
    if isinstance(exc, ProvisioningError) and exc.problem:
        return [exc.problem]
    return [{"code": "other", "field": "", "params": {"message": str(exc)}}]


def _row_to_device(row: dict) -> DeviceIn:
    if not row.get("dev_eui"):
        raise ProvisioningError("dev_eui is empty", code="empty", field="dev_eui")
    values: dict = {k: v for k, v in row.items() if v != ""}
    for key in ("groups", "tags"):
        if key in values:
            values[key] = [p.strip() for p in values[key].split("|") if p.strip()]
    return DeviceIn(**values)


def members(session: Session, group: Group) -> list[Device]:
    return list(
        session.exec(
            select(Device)
            .join(GroupMember, col(GroupMember.device_id) == Device.id)
            .where(GroupMember.group_id == group.id)
            .order_by(col(Device.dev_eui))
        ).all()
    )
