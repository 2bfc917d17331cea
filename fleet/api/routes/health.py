"""Health: the fleet summary (worst nodes first) and one node's full health."""

from fastapi import APIRouter, Query

from fleet.api.deps import AdapterDep, Admin, SessionDep, SettingsDep, Viewer, device_or_404
from fleet.services import health
from fleet.services.sweep import sweep

router = APIRouter(tags=["health"])


@router.get("/health")
def summary(session: SessionDep, _: Viewer, worst: int = Query(20, ge=0, le=500)) -> dict:
    return health.fleet_summary(session, worst=worst)


@router.get("/devices/{dev_eui}/health")
def node(dev_eui: str, session: SessionDep, cfg: SettingsDep, _: Viewer) -> dict:
    return health.node_health(session, device_or_404(session, dev_eui), cfg)


@router.post("/sweep")
def run_sweep(session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Admin) -> dict:
    """Run the periodic pass now (offline alerts, reminders, downlink retries, rollouts)."""
    return sweep(session, adapter, cfg)
