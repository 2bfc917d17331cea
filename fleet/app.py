"""The app factory: settings, engine (migrated at start-up), LNS adapter, routers, background sweep."""

import asyncio
import contextlib
import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

from fleet import db
from fleet.api.deps import PROBLEMS, check_metrics_access, refuse_nul
from fleet.api.routes import (
    alerts,
    commands,
    config,
    devices,
    dumps,
    groups,
    health,
    imports,
    integrations,
    labels,
    open311,
    open_data,
    rollouts,
    sta,
    tokens,
    unknown,
    verifications,
)
from fleet.lns.base import NetworkServer
from fleet.lns.factory import make_adapter
from fleet.metrics import Metrics
from fleet.services.batcher import IngestBatcher
from fleet.services.sweep import sweep
from fleet.settings import Settings

log = logging.getLogger("kumpel.fleet")
API = "/api/v1"


async def _sweep_loop(app: FastAPI) -> None:
    while True:
        await asyncio.sleep(app.state.settings.sweep_interval_s)
        try:
            with Session(app.state.engine) as session:
                await asyncio.to_thread(sweep, session, app.state.adapter, app.state.settings)
        except Exception:  # the loop must survive a bad pass; the next one retries
            log.exception("sweep failed")


def _database_unavailable(request, exc: Exception) -> JSONResponse:  # noqa: ANN001
    """The database is down, restarting, out of disk or out of connections: nothing was acknowledged, so
    the sender (ChirpStack, TTS, a client) retries later; 503 tells it so, where a 500 would say "bug"."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    log.error("database unavailable, answering 503 to %s %s: %s", request.method, request.url.path, reason)
    request.app.state.metrics.unavailable.inc()
    return JSONResponse(
        {"detail": f"database unavailable, retry later: {reason}"}, 503, headers={"Retry-After": "5"}
    )


class BodyLimit:
    """Refuse a declared body over the limit before reading it (pure ASGI: no per-request task overhead).
    Bodies without Content-Length are capped while read, by the ingest routes."""

    def __init__(self, app, limit: int, import_limit: int, photo_limit: int = 0) -> None:  # noqa: ANN001
        self.app, self.limit, self.import_limit = app, limit, import_limit
        self.photo_limit = photo_limit

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http":
            # A vendor's device list (CSV import) is legitimately far larger than any event or API body.
            limit = self.import_limit if scope["path"].endswith("/import") else self.limit
            if scope["path"].startswith("/report/") and scope["method"] == "POST":  # a citizen's photo
                limit = max(limit, self.photo_limit + 64 * 1024)  # + the form's text fields
            for name, value in scope["headers"]:
                if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                    response = JSONResponse({"detail": f"request body larger than {limit} bytes"}, 413)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, adapter: NetworkServer | None = None) -> FastAPI:
    cfg = settings or Settings()
    engine = db.make_engine(cfg.database_url)
    db.migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        app.state.batcher.start()
        task = asyncio.create_task(_sweep_loop(app)) if cfg.sweep_interval_s > 0 else None
        yield
        app.state.batcher.stop()
        if task:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.adapter.close()
        engine.dispose()

    app = FastAPI(
        title="Kumpel fleet manager",
        version="1",
        lifespan=lifespan,
        description="LoRaWAN waste-bin and climate sensor fleet: ingest, health, config, provisioning.",
    )
    app.state.settings = cfg
    app.state.engine = engine
    app.state.adapter = adapter if adapter is not None else make_adapter(cfg)
    app.state.metrics = Metrics(engine)
    app.state.batcher = IngestBatcher(engine, cfg, app.state.adapter, app.state.metrics)

    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_middleware(
        BodyLimit,
        limit=cfg.max_body_bytes,
        import_limit=cfg.max_import_bytes,
        photo_limit=cfg.report_photo_max_bytes,
    )
    # Field crews read pages over slow mobile links: HTML compresses about 5x.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.include_router(integrations.router)  # first: the hot path matches before the other routes
    app.include_router(  # open data, read-only, no sign-in; errors in the SensorThings error shape
        sta.router,
        responses={
            code: {"description": "SensorThings error {code, type, message}"} for code in (400, 404, 503)
        },
    )
    app.include_router(dumps.router)
    for module in (
        devices,
        imports,
        labels,
        config,
        groups,
        open_data,
        commands,
        rollouts,
        health,
        alerts,
        tokens,
        unknown,
        verifications,
    ):
        app.include_router(module.router, prefix=API, dependencies=[Depends(refuse_nul)], responses=PROBLEMS)
    app.include_router(
        open311.router, dependencies=[Depends(refuse_nul)]
    )  # its own standard's paths: /open311/v2/...

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True}

    @app.get("/metrics", include_in_schema=False, dependencies=[Depends(check_metrics_access)])
    def metrics() -> Response:
        return Response(app.state.metrics.render(), media_type="text/plain; version=0.0.4")

    try:
        from fleet.web import router as web_router
    except Exception:  # the pages are optional: ingest and the API must come up without them
        log.exception("field-crew pages (fleet.web) not mounted")
    else:
        app.include_router(web_router, dependencies=[Depends(refuse_nul)])
    return app
