"""OGC SensorThings API 1.1 (read-only) at /sta/v1.1: the open-data view of public nodes.

No sign-in: only members of groups an admin opened appear (see fleet.services.sta). Errors answer with
the status the standard expects (400 for a query the server cannot read, 404 for a missing entity) and a
message that says what to change.
"""

import json
import threading

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlmodel import Session

from fleet.services.sta.entities import ENTITIES
from fleet.services.sta.filter import FilterError
from fleet.services.sta.query import NotFound, answer

PREFIX = "/sta/v1.1"
CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
]
router = APIRouter(prefix=PREFIX, tags=["open data: SensorThings API"])
GATE_WAIT_S = 30
_gate_lock = threading.Lock()


def _gate(request: Request) -> threading.BoundedSemaphore:
    """One gate per app: at most `sta_max_concurrent` SensorThings queries run at once."""
    with _gate_lock:
        gate = getattr(request.app.state, "sta_gate", None)
        if gate is None:
            gate = request.app.state.sta_gate = threading.BoundedSemaphore(
                max(1, request.app.state.settings.sta_max_concurrent)
            )
    return gate


def _root(request: Request) -> str:
    return request.app.state.settings.public_url.rstrip("/") + PREFIX


def _json(body: object, status: int = 200) -> Response:
    headers = {"Access-Control-Allow-Origin": "*"}  # open data: any web map may read it
    return Response(json.dumps(body, ensure_ascii=False), status, headers, "application/json")


def _error(status: int, message: str) -> Response:
    return _json({"code": status, "type": "error", "message": message}, status)


@router.get("")
def service_root(request: Request) -> Response:
    root = _root(request)
    entity_sets = [{"name": name, "url": f"{root}/{name}"} for name in ENTITIES]
    return _json({"serverSettings": {"conformance": CONFORMANCE}, "value": entity_sets})


@router.get("/{path:path}")
def resource(path: str, request: Request) -> Response:
    if not path.strip("/"):
        return service_root(request)
    params = dict(request.query_params)
    gate = _gate(request)
    if not gate.acquire(timeout=GATE_WAIT_S):
        return _error(503, "the open-data API is busy: try again in a minute")
    try:
        with Session(request.app.state.engine) as session:
            return _run(request, session, path, params)
    finally:
        gate.release()


def _run(request: Request, session: Session, path: str, params: dict) -> Response:
    cfg = request.app.state.settings
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {int(cfg.sta_statement_timeout_s) * 1000}"))
    try:
        body = answer(session, path, params, _root(request))
    except FilterError as exc:
        return _error(400, str(exc))
    except NotFound as exc:
        return _error(404, str(exc))
    except (DBAPIError, StatementError) as exc:  # e.g. comparing text with a number on PostgreSQL
        session.rollback()
        if type(getattr(exc, "orig", None)).__name__ == "QueryCanceled":
            return _error(
                503,
                f"the query took longer than {cfg.sta_statement_timeout_s} s: "
                "narrow it (e.g. $filter on phenomenonTime, a Datastream's Observations)",
            )
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        return _error(400, f"the database could not apply this query: {reason}")
    if isinstance(body, tuple):
        value = body[1]
        return PlainTextResponse("" if value is None else str(value))
    return _json(body)
