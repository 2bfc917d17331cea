"""Fixtures for the page tests: the real fleet app on a temporary SQLite database, seeded through its
ingest path; signed-in clients per role; and, for the browser tests, a real uvicorn on loopback plus
headless Chromium driven by Playwright."""

import os
import secrets
import shutil
import socket
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import web_seed as seed
from fastapi.testclient import TestClient

PG_URL = os.environ.get("KUMPEL_TEST_PG_URL")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _fleet(database_url: str, public_url: str = "http://127.0.0.1:8000"):  # noqa: ANN202
    from fleet.app import create_app

    cfg = seed.web_settings(database_url, public_url)
    app = create_app(cfg)
    return app, cfg


@contextmanager
def _pg_database():  # noqa: ANN202
    """A throwaway PostgreSQL database (kumpel_t_<random>), dropped afterwards."""
    from sqlalchemy import create_engine, text

    name = f"kumpel_t_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def fleet(request, tmp_path_factory):  # noqa: ANN001, ANN201
    """The fleet app with three nodes, three days of uplinks and a token per role (seeded once a module);
    on SQLite, and on PostgreSQL too when KUMPEL_TEST_PG_URL is set."""
    with ExitStack() as stack:
        if request.param == "pg":
            if not PG_URL:
                pytest.skip("KUMPEL_TEST_PG_URL not set: PostgreSQL variant of the page tests skipped")
            url = stack.enter_context(_pg_database())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'fleet.db'}"
        app, cfg = _fleet(url)
        client = stack.enter_context(TestClient(app))
        stack.callback(app.state.engine.dispose)
        tokens = seed.seed(client, app.state.engine, cfg)
        yield SimpleNamespace(app=app, cfg=cfg, engine=app.state.engine, tokens=tokens, anonymous=client)


def sign_in(app, token: str, lang: str = "en") -> TestClient:  # noqa: ANN001
    """A browser-like client with its own cookie jar, signed in through the real form."""
    client = TestClient(app, headers={"Accept-Language": lang})
    client.signin_csrf = seed.signin_csrf(client)  # kept: a signed-in browser may post the form again
    response = client.post(
        "/signin", data={"token": token, "next": "/", "csrf": client.signin_csrf}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def as_role(fleet):  # noqa: ANN001, ANN201
    clients = {role: sign_in(fleet.app, token) for role, token in fleet.tokens.items()}
    return clients.__getitem__


@pytest.fixture
def signed_in(fleet):  # noqa: ANN001, ANN201
    """A fresh signed-in client (own cookie jar) for tests that change language or cookies."""
    return lambda role, lang="en": sign_in(fleet.app, fleet.tokens[role], lang)


class _Server:
    """uvicorn in a thread on a socket we bound ourselves (127.0.0.1, port 0): no port races."""

    def __init__(self, app):  # noqa: ANN001
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):  # noqa: ANN204
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):  # noqa: ANN002, ANN204
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def live_fleet(tmp_path_factory):  # noqa: ANN201
    """The fleet under a real uvicorn on loopback, seeded over HTTP like a ChirpStack would."""
    import httpx

    app, cfg = _fleet(f"sqlite:///{tmp_path_factory.mktemp('web-live') / 'fleet.db'}")
    with _Server(app) as server:
        cfg.public_url = server.url
        with httpx.Client(base_url=server.url, timeout=10) as http:
            tokens = seed.seed(http, app.state.engine, cfg)
        yield SimpleNamespace(url=server.url, app=app, tokens=tokens, engine=app.state.engine)


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    if CHROMIUM is None:
        pytest.skip(
            "no Chromium on this machine (make browser installs Debian's chromium): browser tests skipped"
        )
    from playwright.sync_api import sync_playwright

    (Path(__file__).resolve().parents[2] / "artifacts" / "screenshots").mkdir(parents=True, exist_ok=True)

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def phone(browser):  # noqa: ANN001, ANN201
    """A fresh phone-sized browser context (360 x 780, touch, German first) per test."""
    context = browser.new_context(
        viewport={"width": 360, "height": 780},
        device_scale_factor=2,
        has_touch=True,
        is_mobile=True,
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de"},
    )
    context.set_default_timeout(8000)
    yield context
    context.close()
