"""Devices that sent uplinks but are not registered here: for the technician to adopt or ignore."""

from fastapi import APIRouter, HTTPException
from sqlmodel import col, select

from fleet.api.deps import SessionDep, Technician, Viewer
from fleet.models import UnknownDevice
from protocols import identity

router = APIRouter(prefix="/unknown-devices", tags=["devices"])


@router.get("")
def list_unknown(session: SessionDep, _: Viewer) -> list[dict]:
    rows = session.exec(select(UnknownDevice).order_by(col(UnknownDevice.last_seen_at).desc())).all()
    return [u.model_dump() for u in rows]


@router.delete("/{dev_eui}", status_code=204)
def forget(dev_eui: str, session: SessionDep, _: Technician) -> None:
    row = session.exec(
        select(UnknownDevice).where(UnknownDevice.dev_eui == identity.normalize_eui(dev_eui))
    ).first()
    if row is None:
        raise HTTPException(404, f"{dev_eui} is not in the unknown-devices list")
    session.delete(row)
    session.commit()
