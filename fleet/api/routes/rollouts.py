"""Staged config rollouts to a group: create, watch, resume after a halt, abort."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import col, select

from fleet.api.deps import AdapterDep, RowId, SessionDep, SettingsDep, Technician, Viewer
from fleet.models import Group, Rollout
from fleet.services import config as config_service
from fleet.services import downlinks, rollout

router = APIRouter(prefix="/rollouts", tags=["rollouts"])


class RolloutIn(BaseModel):
    group: str
    settings: dict[str, int | bool]
    batch_size: int = Field(10, ge=1, le=10000)
    failure_threshold_pct: int = Field(20, ge=0, le=100)


def _rollout(session, rollout_id: int) -> Rollout:  # noqa: ANN001
    ro = session.get(Rollout, rollout_id)
    if ro is None:
        raise HTTPException(404, f"no rollout {rollout_id}")
    return ro


@router.post("", status_code=201)
def create(
    body: RolloutIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    group = session.exec(select(Group).where(Group.name == body.group)).first()
    if group is None:
        raise HTTPException(404, f"no group {body.group!r}")
    try:
        ro = rollout.create(
            session,
            group,
            body.settings,
            cfg,
            batch_size=body.batch_size,
            failure_threshold_pct=body.failure_threshold_pct,
        )
    except (rollout.RolloutError, config_service.ConfigError) as exc:
        session.rollback()
        raise HTTPException(400, str(exc)) from exc
    session.commit()
    downlinks.dispatch(session, adapter, cfg)
    session.commit()
    return rollout.status(session, ro)


@router.get("")
def list_rollouts(session: SessionDep, _: Viewer) -> list[dict]:
    return [
        rollout.status(session, r) for r in session.exec(select(Rollout).order_by(col(Rollout.id).desc()))
    ]


@router.get("/{rollout_id}")
def get_rollout(rollout_id: RowId, session: SessionDep, _: Viewer) -> dict:
    return rollout.status(session, _rollout(session, rollout_id))


@router.post("/{rollout_id}/resume")
def resume(
    rollout_id: RowId, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    ro = _rollout(session, rollout_id)
    try:
        rollout.resume(session, ro, cfg)
    except rollout.RolloutError as exc:
        raise HTTPException(409, str(exc)) from exc
    session.commit()
    downlinks.dispatch(session, adapter, cfg)
    session.commit()
    return rollout.status(session, ro)


@router.post("/{rollout_id}/abort")
def abort(rollout_id: RowId, session: SessionDep, _: Technician) -> dict:
    ro = _rollout(session, rollout_id)
    try:
        rollout.abort(session, ro)
    except rollout.RolloutError as exc:
        raise HTTPException(409, str(exc)) from exc
    session.commit()
    return rollout.status(session, ro)
