"""Migration 0004 on a database that already holds data: LNS integers widened (PostgreSQL), the NaN /
Infinity that older code stored on SQLite repaired to null, API tokens keep working (no expiry)."""

import json
import os
import secrets

import pytest
from sqlalchemy import create_engine, inspect, text

from fleet import db as fleet_db

PG_URL = os.environ.get("KUMPEL_TEST_PG_URL")


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def old_engine(request, tmp_path):  # noqa: ANN001, ANN201
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("KUMPEL_TEST_PG_URL not set: PostgreSQL variant skipped")
    name = f"kumpel_m_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(PG_URL.rsplit("/", 1)[0] + "/" + name)
    yield engine
    engine.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_to_0004_widens_lns_integers_and_repairs_non_finite_values(old_engine):
    engine = old_engine
    sqlite = engine.dialect.name == "sqlite"
    fleet_db.migrate(engine, "0003")
    rx = '[{"gateway_id": "0016c001ff10a235", "rssi": -90, "snr": NaN}]' if sqlite else "[]"
    with engine.begin() as c:
        device = {
            "dev_eui": "'70B3D57ED0000001'", "join_eui": "'0000000000000000'", "name": "'bin'",
            "hardware_model": "''", "board": "'devkit_rak3172'", "street": "''", "district": "''",
            "app_key_enc": "''", "tags": "'[]'", "lns_registered": "false",
            "created_at": "'2026-11-01 08:00'",
            "expected_interval_s": "7200", "rejoins": "0", "health_status": "'unknown'",
            "health_reasons": "'[]'", "health_rank": "0", "health_stale": "false", "last_fcnt": "2147483647",
        }  # fmt: skip
        c.execute(text(f"INSERT INTO device ({', '.join(device)}) VALUES ({', '.join(device.values())})"))
        uplink = {
            "device_id": "1", "dedup_key": "'cs:old'", "source": "'chirpstack'",
            "received_at": "'2026-11-01 09:00'", "fport": "1", "fcnt": "7", "data": ":data", "gateways": "1",
            "rx_info": ":rx", "snr": "9e999" if sqlite else "7.5",
        }  # fmt: skip
        c.execute(
            text(f"INSERT INTO uplink ({', '.join(uplink)}) VALUES ({', '.join(uplink.values())})"),
            {"data": b"\x01", "rx": rx},
        )
        c.execute(
            text(
                "INSERT INTO apitoken (name, role, token_hash, created_at) VALUES ('depot', 'technician',"
                " 'abc', '2026-11-01 08:00:00')"
            )
        )
    fleet_db.migrate(engine)
    with engine.begin() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
        c.execute(text("UPDATE uplink SET fcnt = 4294967295, frequency = 2450000000"))
        c.execute(text("UPDATE device SET last_fcnt = 4294967295"))
        up = c.execute(text("SELECT fcnt, frequency, snr, rx_info FROM uplink")).one()
        token = c.execute(text("SELECT name, expires_at FROM apitoken")).one()
    assert (up.fcnt, up.frequency) == (4294967295, 2450000000)
    rx_info = up.rx_info if isinstance(up.rx_info, list) else json.loads(up.rx_info, parse_constant=_refuse)
    if sqlite:
        assert up.snr is None and rx_info[0]["snr"] is None and rx_info[0]["rssi"] == -90
    else:
        assert up.snr == 7.5
        columns = {c["name"]: c["type"] for c in inspect(engine).get_columns("uplink")}
        assert all(str(columns[n]) == "BIGINT" for n in ("fport", "fcnt", "dr", "sf", "frequency"))
    assert token == ("depot", None)  # existing tokens do not expire by surprise


def _refuse(token: str):  # noqa: ANN202
    raise ValueError(f"non-standard JSON constant {token} still stored")
