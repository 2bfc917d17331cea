"""Commands to a node (reboot, status_now, measure_now, rejoin) through the downlink queue."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from fleet.api.deps import AdapterDep, SessionDep, SettingsDep, Technician, device_or_404
from fleet.api.routes.config import downlink_public
from fleet.services import config as config_service
from fleet.services import downlinks

router = APIRouter(prefix="/devices", tags=["commands"])


class CommandIn(BaseModel):
    command: str


@router.post("/{dev_eui}/commands", status_code=202)
def send_command(
    dev_eui: str, body: CommandIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    device = device_or_404(session, dev_eui)
    try:
        dl = downlinks.queue_command(session, device, body.command, cfg)
    except config_service.ConfigError as exc:
        raise HTTPException(400, str(exc)) from exc
    session.commit()
    downlinks.dispatch(session, adapter, cfg, device_id=device.id)
    session.commit()
    session.refresh(dl)
    return downlink_public(dl)
