"""Alerts: list (open by default) and acknowledge."""

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import col, select

from fleet.api.deps import RowId, SessionDep, Technician, Viewer
from fleet.models import Alert, Device, utcnow
from fleet.services import alerts
from protocols import identity

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _public(alert: Alert, dev_eui: str) -> dict:
    return {**alert.model_dump(exclude={"device_id"}), "dev_eui": dev_eui}


@router.get("")
def list_alerts(
    session: SessionDep,
    _: Viewer,
    open: bool = True,
    dev_eui: str = "",
    limit: int = Query(200, ge=1, le=1000),
) -> list:
    q = select(Alert, Device.dev_eui).join(Device, col(Device.id) == Alert.device_id)
    if open:
        q = q.where(col(Alert.closed_at).is_(None))
    if dev_eui:
        q = q.where(Device.dev_eui == identity.normalize_eui(dev_eui))
    rows = session.exec(q.order_by(col(Alert.opened_at).desc()).limit(limit)).all()
    return [_public(a, e) for a, e in rows]


@router.post("/{alert_id}/ack")
def acknowledge(alert_id: RowId, session: SessionDep, who: Technician) -> dict:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(404, f"no alert {alert_id}")
    alerts.acknowledge(session, alert, who.name, utcnow())
    session.commit()
    session.refresh(alert)
    return _public(alert, session.get(Device, alert.device_id).dev_eui)
