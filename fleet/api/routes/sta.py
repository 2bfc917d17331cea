"""OGC SensorThings API 1.1 (read-only) at /sta/v1.1: the open-data view of public nodes.

No sign-in: only members of groups an admin opened appear (see fleet.services.sta). Errors answer with
the status the standard expects (400 for a query the server cannot read, 404 for a missing entity) and a
message that says what to change.
"""

import json

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
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
    with Session(request.app.state.engine) as session:
        try:
            body = answer(session, path, params, _root(request))
        except FilterError as exc:
            return _error(400, str(exc))
        except NotFound as exc:
            return _error(404, str(exc))
        except (DBAPIError, StatementError) as exc:  # e.g. comparing text with a number on PostgreSQL
            session.rollback()
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            return _error(400, f"the database could not apply this query: {reason}")
    if isinstance(body, tuple):
        value = body[1]
        return PlainTextResponse("" if value is None else str(value))
    return _json(body)
