"""Per-node configuration: desired (overrides) vs applied, pending and rejected keys, downlink queue."""

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlmodel import col, select

from fleet.api.deps import AdapterDep, SessionDep, SettingsDep, Technician, Viewer, device_or_404
from fleet.models import Downlink
from fleet.services import config as config_service
from fleet.services import downlinks as downlink_queue
from fleet.services.health import config_view

router = APIRouter(prefix="/devices", tags=["config"])


class ConfigIn(BaseModel):
    settings: dict[str, int | bool]
    replace: bool = False  # True: these become the node's only overrides


def downlink_public(dl: Downlink) -> dict:
    return {**dl.model_dump(exclude={"payload", "device_id"}), "payload_hex": bytes(dl.payload).hex()}


@router.get("/{dev_eui}/config")
def get_config(dev_eui: str, session: SessionDep, _: Viewer) -> dict:
    return config_view(session, device_or_404(session, dev_eui))


@router.put("/{dev_eui}/config")
def set_config(
    dev_eui: str, body: ConfigIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    device = device_or_404(session, dev_eui)
    try:
        config_service.set_overrides(session, device, body.settings, replace=body.replace)
        session.flush()
        dl = config_service.reconcile(session, device, cfg)
    except config_service.ConfigError as exc:
        session.rollback()
        raise HTTPException(400, str(exc)) from exc
    session.commit()
    downlink_queue.dispatch(session, adapter, cfg, device_id=device.id)
    session.commit()
    if dl is not None:
        session.refresh(dl)
    return {**config_view(session, device), "downlink": downlink_public(dl) if dl else None}


@router.get("/{dev_eui}/downlinks")
def downlinks(
    dev_eui: str, session: SessionDep, _: Viewer, limit: int = Query(50, ge=1, le=1000)
) -> list[dict]:
    device = device_or_404(session, dev_eui)
    rows = session.exec(
        select(Downlink)
        .where(Downlink.device_id == device.id)
        .order_by(col(Downlink.id).desc())
        .limit(min(limit, 500))
    ).all()
    return [downlink_public(d) for d in rows]
