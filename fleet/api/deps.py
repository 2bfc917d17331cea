"""Request dependencies: database session, caller token and role, the settings and the LNS adapter."""

import hmac
import ipaddress
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from pydantic import BaseModel
from sqlmodel import Session, select

from fleet.lns.base import NetworkServer
from fleet.models import ApiToken, Device, utcnow
from fleet.security import hash_token
from fleet.services import tokens
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
    now = utcnow()
    if (why := tokens.refusal(token, now)) is not None:
        raise HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})
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


def check_metrics_access(request: Request, cfg: SettingsDep) -> None:
    """/metrics tells an outsider how big the fleet is and what fails: a token, or an internal address."""
    if cfg.metrics_token:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), cfg.metrics_token.encode()
        ):
            raise HTTPException(401, "metrics need 'Authorization: Bearer <KUMPEL_METRICS_TOKEN>'")
        return
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    networks = [
        ipaddress.ip_network(n.strip(), strict=False) for n in cfg.metrics_networks.split(",") if n.strip()
    ]
    if address is None or not any(address in n for n in networks):
        raise HTTPException(
            403, "metrics are served to KUMPEL_METRICS_NETWORKS only (or set KUMPEL_METRICS_TOKEN)"
        )


def device_or_404(session: Session, dev_eui: str) -> Device:
    key = identity.normalize_eui(dev_eui)
    device = session.exec(select(Device).where(Device.dev_eui == key)).first()
    if device is None:
        raise HTTPException(404, f"no device with DevEUI {dev_eui}")
    return device


# --- what every API answer may be besides success -------------------------------------------------------
# Row ids are PostgreSQL INTEGER (SERIAL): a larger number can name no row, and is refused before it reaches
# the database (where it would be an out-of-range error, a 500).
ROW_ID_MAX = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="row id (1 .. 2^31 - 1)")]


class Problem(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    """422: FastAPI's list of what failed for parameters; a sentence for a network server's message."""

    detail: str | list[dict]


PROBLEMS: dict = {
    400: {"model": Problem, "description": "bad request: the detail says what was wrong (e.g. a NUL byte)"},
    401: {"model": Problem, "description": "missing, unknown, expired or revoked API token"},
    403: {"model": Problem, "description": "the token's role may not do this"},
    404: {"model": Problem, "description": "no such device, group, rollout, alert or token"},
    409: {"model": Problem, "description": "conflicts with the current state"},
}


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def refuse_nul(request: Request) -> None:
    """A NUL character in a path, query or body is a 400: PostgreSQL text cannot hold it (a 500 there) and
    no name, note or EUI legitimately contains one."""
    where = None
    if "\x00" in request.scope.get("path", ""):
        where = "the path"
    elif any(_has_nul(k) or _has_nul(v) for k, v in request.query_params.multi_items()):
        where = "a query parameter"
    elif request.method in ("POST", "PUT", "PATCH"):
        ctype = request.headers.get("content-type", "")
        if "x-www-form-urlencoded" in ctype or "multipart/form-data" in ctype:
            form = await request.form()  # parsed once: the route gets the same form (uploads: own check)
            found = any(_has_nul(k) or _has_nul(v) for k, v in form.multi_items() if isinstance(v, str))
        else:
            body = await request.body()  # Starlette keeps it: the route reads the same bytes again
            if "json" in ctype:
                try:
                    found = _has_nul(json.loads(body)) if body else False
                except (ValueError, RecursionError):
                    found = False  # not JSON: the route's own validation answers that
            else:
                found = b"\x00" in body
        where = "the request body" if found else None
    if where:
        raise HTTPException(400, f"NUL character in {where}: not allowed in any name, text or EUI")
