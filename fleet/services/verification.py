"""Verification: the result of `kumpel node verify` per run, and when a device counts as provisioned.

A device is provisioned once a verification passes with its current keys: the first pass sets
`Device.provisioned_at`; a later failure leaves it set (the failure is stored and shown as the latest
result); new keys (rotation, a changed AppKey) clear it, because no verified node holds them yet. The
fleet decides pass/fail itself from the checks, so a report cannot call a failing check a pass.
"""

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import and_, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from fleet.models import Device, Event, Verification, utcnow

MAX_CHECKS = 64
MAX_NAME = 64
MAX_DETAIL = 500


class CheckIn(BaseModel):
    """One check as the node tool reports it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    ok: bool
    detail: str = ""  # in English, as the terminal showed it
    # What the detail says as a code and its numbers (firmware selftest, node tool), for the pages' wording.
    code: str = Field(default="", max_length=40)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, max_length=8)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("check name must not be empty")
        if len(v) > MAX_NAME:
            raise ValueError(f"check name must be at most {MAX_NAME} characters, not {len(v)}")
        return v

    @field_validator("detail")
    @classmethod
    def _detail(cls, v: str) -> str:
        if len(v) > MAX_DETAIL:
            raise ValueError(f"check detail must be at most {MAX_DETAIL} characters, not {len(v)}")
        return v


class VerificationIn(BaseModel):
    """A verify run: its checks (1..64, unique names), the board's MicroPython and the tool's version."""

    model_config = ConfigDict(extra="forbid")

    checks: list[CheckIn]
    micropython: str = Field(default="", max_length=120)
    tool: str = Field(default="", max_length=80)

    @field_validator("checks")
    @classmethod
    def _count(cls, v: list[CheckIn]) -> list[CheckIn]:
        if not v:
            raise ValueError("at least one check is needed: a verification without checks proves nothing")
        if len(v) > MAX_CHECKS:
            raise ValueError(f"at most {MAX_CHECKS} checks, not {len(v)}")
        return v

    @model_validator(mode="after")
    def _unique(self) -> "VerificationIn":
        seen: set[str] = set()
        for c in self.checks:
            if c.name in seen:
                raise ValueError(f"check {c.name!r} is reported twice: one result per check")
            seen.add(c.name)
        return self


def summary(v: Verification | None) -> dict | None:
    """The short form the device JSON and the health view carry: {at, ok, failed: [names]}."""
    if v is None:
        return None
    return {"at": v.created_at, "ok": v.ok, "failed": [c["name"] for c in v.checks if not c.get("ok")]}


def public(v: Verification) -> dict:
    return {**v.model_dump(exclude={"device_id"}), "failed": summary(v)["failed"]}


def record(session: Session, device: Device, data: VerificationIn, author: str) -> Verification:
    """Store one verify run; the first pass (since the keys were issued) makes the device provisioned."""
    now = utcnow()
    ok = all(c.ok for c in data.checks)
    run = Verification(
        device_id=device.id,
        created_at=now,
        ok=ok,
        micropython=data.micropython,
        tool=data.tool,
        author=author,
        checks=[c.model_dump(exclude={"code", "params"} if not c.code else set()) for c in data.checks],
    )
    session.add(run)
    if ok and device.provisioned_at is None:
        device.provisioned_at = now
        session.add(device)
        session.add(Event(device_id=device.id, kind="provisioned", message=f"verify passed ({author})"))
    session.flush()
    return run


def clear_provisioned(session: Session, device: Device, why: str) -> None:
    """New keys: the device must pass verify again before it counts as provisioned."""
    if device.provisioned_at is not None:
        device.provisioned_at = None
        session.add(device)
        session.add(Event(device_id=device.id, kind="unprovisioned", message=why))


def latest(session: Session, device_id: int) -> Verification | None:
    return next(iter(history(session, device_id, 1)), None)


def history(session: Session, device_id: int, limit: int) -> list[Verification]:
    """Newest first (arrival order)."""
    return list(
        session.exec(
            select(Verification)
            .where(Verification.device_id == device_id)
            .order_by(col(Verification.id).desc())
            .limit(limit)
        ).all()
    )


def provisioned_filter(provisioned: bool):  # noqa: ANN201 (an SQL expression)
    """Where-clause for devices that have (True) or have not (False) passed verify: API list and CLI."""
    return col(Device.provisioned_at).is_not(None) if provisioned else col(Device.provisioned_at).is_(None)


def is_latest():  # noqa: ANN201 (an SQL expression)
    """Join condition for `select(Device, Verification).outerjoin(Verification, is_latest())`: each
    device's newest verification or None, in the same query as the devices (no N+1).

    The correlated max(id) uses the (device_id, id) index: one index lookup per listed device.
    """
    inner = aliased(Verification)  # not the joined table itself, or the subquery would correlate to it
    newest = (
        select(func.max(inner.id)).where(inner.device_id == Device.id).correlate(Device).scalar_subquery()
    )
    return and_(col(Verification.device_id) == Device.id, col(Verification.id) == newest)
