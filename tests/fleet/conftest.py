"""Fleet test fixtures: every API test runs on SQLite and, when KUMPEL_TEST_PG_URL is set, on a fresh
PostgreSQL database created for this session and dropped after it."""

import os
import secrets

import pytest
from fastapi.testclient import TestClient
from fleet_helpers import RecordingNetworkServer, fleet_settings, make_token, wipe
from sqlalchemy import create_engine, text
from sqlmodel import Session

from fleet.app import create_app
from fleet.settings import Settings

PG_URL = os.environ.get("KUMPEL_TEST_PG_URL")


def _pg_database():  # noqa: ANN202
    name = f"kumpel_t_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    return url, lambda: _drop(admin, name)


def _drop(admin, name: str) -> None:  # noqa: ANN001
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def database_url(request, tmp_path_factory):  # noqa: ANN001, ANN201
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('fleetdb') / 'fleet.db'}"
        return
    if not PG_URL:
        pytest.skip("KUMPEL_TEST_PG_URL not set: PostgreSQL variant skipped")
    url, drop = _pg_database()
    yield url
    drop()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return fleet_settings(
        database_url, public_url="https://fleet.example", downlink_backoff_s=60, downlink_max_attempts=3
    )


@pytest.fixture
def lns() -> RecordingNetworkServer:
    return RecordingNetworkServer()


@pytest.fixture
def app(settings: Settings, lns: RecordingNetworkServer):  # noqa: ANN201
    application = create_app(settings, adapter=lns)
    wipe(settings.database_url)
    return application


@pytest.fixture
def client(app) -> TestClient:  # noqa: ANN001
    with TestClient(app) as c:
        yield c


@pytest.fixture
def db(app):  # noqa: ANN001, ANN201
    with Session(app.state.engine) as s:
        yield s


@pytest.fixture
def admin(app) -> dict:  # noqa: ANN001
    return make_token(app, "admin")


@pytest.fixture
def tech(app) -> dict:  # noqa: ANN001
    return make_token(app, "technician")


@pytest.fixture
def viewer(app) -> dict:  # noqa: ANN001
    return make_token(app, "viewer")
