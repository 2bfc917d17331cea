"""Groups (districts, rounds): members and the desired config every member inherits."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlmodel import col, select

from fleet.api.deps import AdapterDep, SessionDep, SettingsDep, Technician, Viewer, device_or_404
from fleet.models import Group, GroupMember
from fleet.services import config as config_service
from fleet.services import downlinks, provisioning

router = APIRouter(prefix="/groups", tags=["groups"])


class GroupIn(BaseModel):
    name: str
    description: str = ""


class MembersIn(BaseModel):
    dev_euis: list[str]


class GroupConfigIn(BaseModel):
    settings: dict[str, int | bool]


def _group(session, name: str) -> Group:  # noqa: ANN001
    g = session.exec(select(Group).where(Group.name == name)).first()
    if g is None:
        raise HTTPException(404, f"no group {name!r}")
    return g


def _public(session, g: Group) -> dict:  # noqa: ANN001
    return {**g.model_dump(), "members": [d.dev_eui for d in provisioning.members(session, g)]}


@router.get("")
def list_groups(session: SessionDep, _: Viewer) -> list[dict]:
    return [_public(session, g) for g in session.exec(select(Group).order_by(col(Group.name))).all()]


@router.post("", status_code=201)
def create_group(body: GroupIn, session: SessionDep, _: Technician) -> dict:
    name = body.name.strip()
    if not name:
        raise HTTPException(400, "group name is empty")
    if session.exec(select(Group).where(Group.name == name)).first():
        raise HTTPException(409, f"group {name!r} exists")
    g = Group(name=name, description=body.description)
    session.add(g)
    session.commit()
    session.refresh(g)
    return _public(session, g)


@router.get("/{name}")
def get_group(name: str, session: SessionDep, _: Viewer) -> dict:
    return _public(session, _group(session, name))


@router.post("/{name}/members")
def add_members(
    name: str, body: MembersIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    g = _group(session, name)
    devices = [device_or_404(session, e) for e in body.dev_euis]  # all exist, or nothing changes
    for d in devices:
        if session.get(GroupMember, (g.id, d.id)) is None:
            session.add(GroupMember(group_id=g.id, device_id=d.id))
    session.flush()
    for d in devices:
        config_service.reconcile(session, d, cfg)
    session.commit()
    downlinks.dispatch(session, adapter, cfg)
    session.commit()
    return _public(session, g)


@router.delete("/{name}/members/{dev_eui}", status_code=204)
def remove_member(name: str, dev_eui: str, session: SessionDep, cfg: SettingsDep, _: Technician) -> None:
    g = _group(session, name)
    d = device_or_404(session, dev_eui)
    m = session.get(GroupMember, (g.id, d.id))
    if m is None:
        raise HTTPException(404, f"{d.dev_eui} is not in {name!r}")
    session.delete(m)
    session.flush()
    config_service.reconcile(session, d, cfg)
    session.commit()


@router.put("/{name}/config")
def set_group_config(
    name: str, body: GroupConfigIn, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    """Desired settings for every member at once (no staging: use a rollout for that)."""
    g = _group(session, name)
    try:
        g.config = config_service.validate(body.settings)
    except config_service.ConfigError as exc:
        raise HTTPException(400, str(exc)) from exc
    session.add(g)
    session.flush()
    queued = sum(1 for d in provisioning.members(session, g) if config_service.reconcile(session, d, cfg))
    session.commit()
    downlinks.dispatch(session, adapter, cfg)
    session.commit()
    return {**_public(session, g), "downlinks_queued": queued}
