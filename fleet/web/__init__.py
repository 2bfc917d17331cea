"""Field-crew web pages: server-rendered, phone-first, German and English. See README.md.

`fleet.web.router` is the APIRouter the app factory includes. It is imported on first use, so the pure
helpers here (i18n, charts, session) load without the whole fleet.
"""


def __getattr__(name: str):  # noqa: ANN202
    if name == "router":
        from fleet.web.pages import router

        return router
    raise AttributeError(f"module 'fleet.web' has no attribute {name!r}")
