"""LNS webhooks: ChirpStack v4 HTTP integration and The Things Stack v3 webhooks.

Parsing happens here (a bad body is a 4xx before anything is queued); storing goes through the app's
group-commit writer, and the answer is sent only after the data is committed.
"""

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from fleet.api.deps import SettingsDep, check_ingest_token
from fleet.lns import chirpstack, ttn
from fleet.lns.base import EventIn, IngestError, UplinkIn

router = APIRouter(prefix="/integrations", tags=["integrations"], dependencies=[Depends(check_ingest_token)])


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


@router.post("/chirpstack")
async def chirpstack_event(
    request: Request,
    cfg: SettingsDep,
    event: str = Query(..., description="up | join | ack | txack | status | log | location"),
) -> dict:
    body = await _body(request, cfg.max_body_bytes)
    try:
        item = chirpstack.parse_event(event, body, request.headers.get("content-type", "application/json"))
    except IngestError as exc:
        request.app.state.metrics.rejected.labels("chirpstack").inc()
        raise HTTPException(exc.status, str(exc)) from exc
    return await _store(request, item)


@router.post("/ttn")
async def ttn_webhook(request: Request, cfg: SettingsDep) -> dict:
    body = await _body(request, cfg.max_body_bytes)
    try:
        item = ttn.parse_webhook(body)
    except IngestError as exc:
        request.app.state.metrics.rejected.labels("ttn").inc()
        raise HTTPException(exc.status, str(exc)) from exc
    return await _store(request, item)
