"""Open-data files, no sign-in: daily dumps of the public readings and the DCAT-AP.de catalogue record."""

import json
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session

from fleet.services import fiware, opendata

router = APIRouter(prefix="/open-data", tags=["open data: files"])
OPEN = {"Access-Control-Allow-Origin": "*"}


def _day(text: str):  # noqa: ANN202
    try:
        return opendata.parse_day(text)
    except opendata.DayError as exc:
        raise HTTPException(400, str(exc)) from exc


def _documented(media_type: str) -> dict:
    """What the OpenAPI schema lists (schemathesis checks answers against it): the file, or a 400."""
    return {200: {"content": {media_type: {}}, "description": "the file"}, 400: {"description": "not a day"}}


@router.get("/readings/{day}.csv", response_class=Response, responses=_documented("text/csv"))
def readings_csv(day: str, request: Request) -> StreamingResponse:
    when = _day(day)

    def chunks():  # noqa: ANN202  (the session lives as long as the stream)
        with Session(request.app.state.engine) as session:
            yield from opendata.readings_csv(session, when)

    headers = {**OPEN, "Content-Disposition": f'attachment; filename="kumpel-readings-{when}.csv"'}
    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/readings/{day}.geojson", response_class=Response, responses=_documented("application/geo+json"))
def readings_geojson(day: str, request: Request) -> Response:
    when = _day(day)
    with Session(request.app.state.engine) as session:
        body = opendata.readings_geojson(session, when)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/geo+json", headers=OPEN)


@router.get("/catalog.jsonld", response_class=Response, responses=_documented("application/ld+json"))
def catalog(request: Request) -> Response:
    body = opendata.catalog(request.app.state.settings, datetime.now(UTC).date())
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/ld+json", headers=OPEN)


@router.get(
    "/fiware/{model}",
    response_class=Response,
    responses={
        200: {"content": {"application/ld+json": {}}, "description": "the entities"},
        404: {"description": "no such Smart Data Model here"},
    },
)
def fiware_entities(model: str, request: Request) -> Response:
    """The public nodes as NGSI-LD entities of a Smart Data Model (normalized): WasteContainer or
    WeatherObserved, each with its newest reading (fleet.services.fiware)."""
    build = fiware.ENTITIES.get(model)
    if build is None:
        raise HTTPException(404, f"no model {model!r}; there are {', '.join(fiware.MODELS)}")
    with Session(request.app.state.engine) as session:
        body = build(session)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/ld+json", headers=OPEN)
