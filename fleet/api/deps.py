"""Request dependencies: database session, caller token and role, the settings and the LNS adapter."""

import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session, select

from fleet.lns.base import NetworkServer
from fleet.models import ApiToken, Device, utcnow
from fleet.security import hash_token
from fleet.services.tokens import ROLES
from fleet.settings import Settings
from protocols import identity


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_adapter(request: Request) -> NetworkServer:
    return request.app.state.adapter


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AdapterDep = Annotated[NetworkServer, Depends(get_adapter)]


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token.strip()


def current_token(request: Request, session: SessionDep) -> ApiToken:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(_bearer(request)))).first()
    if token is None or token.revoked_at is not None:
        raise HTTPException(401, "unknown or revoked API token", headers={"WWW-Authenticate": "Bearer"})
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now  # throttled: not a write per request
        session.add(token)
        session.commit()
        session.refresh(token)
    return token


def require(role: str):  # noqa: ANN201
    """Dependency: the caller's token must have `role` or a stronger one."""
    need = ROLES.index(role)

    def check(token: Annotated[ApiToken, Depends(current_token)]) -> ApiToken:
        if ROLES.index(token.role) < need:
            raise HTTPException(403, f"this needs the {role} role; your token is {token.role}")
        return token

    return check


Viewer = Annotated[ApiToken, Depends(require("viewer"))]
Technician = Annotated[ApiToken, Depends(require("technician"))]
Admin = Annotated[ApiToken, Depends(require("admin"))]


async def check_ingest_token(request: Request, cfg: SettingsDep) -> None:
    if not cfg.ingest_token:
        raise HTTPException(503, "ingest disabled: KUMPEL_INGEST_TOKEN is not set on the fleet manager")
    if not hmac.compare_digest(_bearer(request).encode(), cfg.ingest_token.encode()):
        raise HTTPException(401, "wrong ingest token", headers={"WWW-Authenticate": "Bearer"})


def device_or_404(session: Session, dev_eui: str) -> Device:
    key = identity.normalize_eui(dev_eui)
    device = session.exec(select(Device).where(Device.dev_eui == key)).first()
    if device is None:
        raise HTTPException(404, f"no device with DevEUI {dev_eui}")
    return device
