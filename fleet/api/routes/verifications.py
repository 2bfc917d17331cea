"""Verifications: `kumpel node verify` reports each run here; the first pass makes the device provisioned."""

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fleet.api.deps import SessionDep, Technician, Viewer, device_or_404
from fleet.services import verification
from fleet.services.verification import VerificationIn

router = APIRouter(prefix="/devices", tags=["verifications"])


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str
    code: str = ""
    params: dict = {}


class VerificationPublic(BaseModel):
    id: int
    created_at: datetime
    ok: bool  # every check passed
    failed: list[str]
    checks: list[CheckOut]
    micropython: str
    tool: str
    author: str  # the reporting token's name


class VerificationRecorded(VerificationPublic):
    """The stored run plus the device's state after it."""

    dev_eui: str
    provisioned_at: datetime | None


@router.post("/{dev_eui}/verifications", response_model=VerificationRecorded, status_code=201)
def report(dev_eui: str, body: VerificationIn, session: SessionDep, who: Technician) -> dict:
    device = device_or_404(session, dev_eui)
    run = verification.record(session, device, body, author=who.name)
    session.commit()
    session.refresh(run)
    session.refresh(device)
    return {**verification.public(run), "dev_eui": device.dev_eui, "provisioned_at": device.provisioned_at}


@router.get("/{dev_eui}/verifications", response_model=list[VerificationPublic])
def list_verifications(
    dev_eui: str, session: SessionDep, _: Viewer, limit: int = Query(20, ge=1, le=500)
) -> list[dict]:
    """Newest first."""
    device = device_or_404(session, dev_eui)
    return [verification.public(v) for v in verification.history(session, device.id, limit)]
