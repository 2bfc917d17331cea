"""Make the repository's `tools` package win over the `tests/tools` folder on sys.path.

pytest puts tests/ on sys.path (rootdir conftest), where `tools/` is a namespace folder that would shadow
the real package; a regular package anywhere on the path wins, so the repository root only has to be there.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import os  # noqa: E402
import secrets  # noqa: E402

import pytest  # noqa: E402

from tools.emulator.local_fleet import LocalFleet  # noqa: E402

PG_URL = os.environ.get("KUMPEL_TEST_PG_URL")


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def database_url(request, tmp_path):  # noqa: ANN001, ANN201
    """SQLite in tmp; and, when KUMPEL_TEST_PG_URL is set, a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield ""
        return
    if not PG_URL:
        pytest.skip("KUMPEL_TEST_PG_URL not set: PostgreSQL variant skipped")
    from sqlalchemy import create_engine, text

    name = f"kumpel_t_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture()
def fleet_factory(tmp_path, database_url):  # noqa: ANN001, ANN201
    """Start a real fleet manager (uvicorn on loopback, SQLite in tmp or PostgreSQL) once the gRPC target is
    known."""
    started: list[LocalFleet] = []

    def make(**kw) -> LocalFleet:
        fleet = LocalFleet(
            data_dir=tmp_path / "fleet", grpc_target="", sweep_interval_s=0, database_url=database_url, **kw
        )
        started.append(fleet)
        return fleet

    yield make
    for fleet in started:
        fleet.stop()
        if fleet._server is not None:  # let go of the database before it is dropped
            fleet._server.config.app.state.engine.dispose()  # type: ignore[attr-defined]
