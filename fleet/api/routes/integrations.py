"""LNS webhooks: ChirpStack v4 HTTP integration and The Things Stack v3 webhooks.

Parsing happens here (a bad body is a 4xx before anything is queued); storing goes through the app's
group-commit writer, and the answer is sent only after the data is committed.
"""

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from fleet.api.deps import PROBLEMS, Problem, SettingsDep, ValidationProblem, check_ingest_token
from fleet.lns import chirpstack, ttn
from fleet.lns.base import EventIn, IngestError, UplinkIn

router = APIRouter(
    prefix="/integrations",
    tags=["integrations"],
    dependencies=[Depends(check_ingest_token)],
    responses={
        **{code: PROBLEMS[code] for code in (400, 401)},
        413: {"model": Problem, "description": "body larger than KUMPEL_MAX_BODY_BYTES"},
        422: {"model": ValidationProblem, "description": "a field has the wrong type or an impossible value"},
        503: {"model": Problem, "description": "ingest disabled: KUMPEL_INGEST_TOKEN is not set"},
    },
)
# The bodies are the network servers' own formats, parsed here (not by FastAPI): documented, not modelled.
_RAW_BODY = {"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}}


async def _body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"request body larger than {limit} bytes")
    if not body:
        raise HTTPException(400, "empty request body")
    return bytes(body)


async def _store(request: Request, item: UplinkIn | EventIn) -> dict:
    return await asyncio.wrap_future(request.app.state.batcher.submit(item))


@router.post("/chirpstack", openapi_extra=_RAW_BODY)
async def chirpstack_event(
    request: Request,
    cfg: SettingsDep,
    event: str = Query(..., description="ChirpStack's event type: " + " | ".join(chirpstack.EVENT_MESSAGES)),
) -> dict:
    body = await _body(request, cfg.max_body_bytes)
    try:
        item = chirpstack.parse_event(event, body, request.headers.get("content-type", "application/json"))
    except IngestError as exc:
        request.app.state.metrics.rejected.labels("chirpstack").inc()
        raise HTTPException(exc.status, str(exc)) from exc
    return await _store(request, item)


@router.post("/ttn", openapi_extra=_RAW_BODY)
async def ttn_webhook(request: Request, cfg: SettingsDep) -> dict:
    body = await _body(request, cfg.max_body_bytes)
    try:
        item = ttn.parse_webhook(body)
    except IngestError as exc:
        request.app.state.metrics.rejected.labels("ttn").inc()
        raise HTTPException(exc.status, str(exc)) from exc
    return await _store(request, item)
