"""Which nodes are open data: an admin's choice per group, with optional rounding of coordinates."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlmodel import select

from fleet.api.deps import Admin, SessionDep, Viewer
from fleet.models import Event, Group

router = APIRouter(prefix="/groups", tags=["open data"])


class OpenDataIn(BaseModel):
    public: bool
    # 3 decimals ~ 110 m, 4 ~ 11 m; None: coordinates as stored.
    coordinate_decimals: int | None = Field(default=None, ge=0, le=6)


def _group(session, name: str) -> Group:  # noqa: ANN001
    group = session.exec(select(Group).where(Group.name == name)).first()
    if group is None:
        raise HTTPException(404, f"no group {name!r}")
    return group


def _shown(group: Group) -> dict:
    return {"group": group.name, "public": group.open_data, "coordinate_decimals": group.open_data_decimals}


@router.get("/{name}/open-data")
def get_open_data(name: str, session: SessionDep, _: Viewer) -> dict:
    return _shown(_group(session, name))


@router.put("/{name}/open-data")
def set_open_data(name: str, body: OpenDataIn, session: SessionDep, token: Admin) -> dict:
    """Members of a public group appear in the SensorThings API (and the dumps) from the next request."""
    group = _group(session, name)
    group.open_data, group.open_data_decimals = body.public, body.coordinate_decimals
    session.add(group)
    session.add(
        Event(
            kind="open_data",
            message=f"group {name!r} {'public' if body.public else 'not public'} by {token.name}",
            data=body.model_dump(),
        )
    )
    session.commit()
    return _shown(group)
