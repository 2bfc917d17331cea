"""Helpers for the fleet tests: LNS event builders, tokens, a recording network server, wiping a database."""

import base64
import json
import secrets
import threading
import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session, SQLModel

from fleet.lns.base import NetworkServer
from fleet.services import tokens
from fleet.settings import Settings
from protocols import codec

INGEST_TOKEN = "ingest-secret-for-tests"


def wipe(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as c:
        tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
        if url.startswith("postgresql"):
            c.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                c.execute(text(f'DELETE FROM "{t}"'))
    engine.dispose()


class RecordingNetworkServer(NetworkServer):
    """A network server that records what it was asked (for tests that are not about the adapter)."""

    name = "recording"
    available = True
    registers = True

    def __init__(self) -> None:
        self.registered: list[dict] = []
        self.enqueued: list[dict] = []
        self._changed = threading.Condition()

    def register_device(self, **kw) -> None:  # noqa: ANN003
        self.registered.append(kw)

    def enqueue(self, **kw) -> str:  # noqa: ANN003
        with self._changed:
            self.enqueued.append(kw)
            self._changed.notify_all()
        return f"q{len(self.enqueued)}"

    def wait_for(self, predicate, timeout: float = 5.0) -> list[dict]:  # noqa: ANN001
        """Downlinks after an uplink go out on the fleet's sender thread, after the HTTP answer: wait (on a
        condition, not a sleep) until `predicate(enqueued)` holds."""
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.enqueued), timeout), "downlink not sent"
        return self.enqueued


def make_token(app, role: str) -> dict:  # noqa: ANN001
    with Session(app.state.engine) as s:
        _, token = tokens.create(s, name=f"test-{role}", role=role)
        s.commit()
    return {"Authorization": f"Bearer {token}"}


INGEST = {"Authorization": f"Bearer {INGEST_TOKEN}"}
MEASUREMENT = codec.encode_measurement(
    {
        "distance_cm": 60,
        "no_echo": False,
        "temperature_c": 20.0,
        "humidity_pct": 50.0,
        "battery_mv": 3700,
        "flags": 0,
    }
)


def fleet_settings(database_url: str, **extra: object) -> Settings:
    """The fleet's settings in tests: a fixed secret and ingest token, no background sweep."""
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="test-secret-key-0123456789abcdef",
        ingest_token=INGEST_TOKEN,
        sweep_interval_s=0,
        **extra,
    )


def cs_up(
    dev_eui: str,
    fport: int | None,
    data: bytes,
    fcnt: int = 1,
    *,
    dedup: str | None = None,
    rssi: int = -90,
    snr: float = 7.5,
    gateways: int = 1,
    time: datetime | None = None,
    sf: int = 9,
) -> dict:
    """A ChirpStack v4 `up` event as its HTTP integration posts it (proto3 JSON mapping)."""
    t = (time or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    ev = {
        "deduplicationId": dedup or str(uuid.uuid4()),
        "time": t,
        "deviceInfo": {
            "tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
            "tenantName": "City",
            "applicationId": "ca739e26-7b67-4f14-b69e-d568c22a5a75",
            "applicationName": "bins",
            "deviceProfileId": "f8c2b1b5-3b1c-4a38-9e52-0d2c5e3c7a11",
            "deviceProfileName": "kumpel",
            "deviceName": "bin",
            "devEui": dev_eui.lower(),
            "tags": {},
        },
        "devAddr": "01fa3b2c",
        "adr": True,
        "dr": 12 - sf,
        "fCnt": fcnt,
        "fPort": fport,
        "confirmed": False,
        "data": base64.b64encode(data).decode(),
        "rxInfo": [
            {
                "gatewayId": f"0016c001ff10a23{i}",
                "uplinkId": 1000 + i,
                "rssi": rssi - 5 * i,
                "snr": snr - i,
                "channel": 1,
                "context": "AAAAAA==",
                "crcStatus": "CRC_OK",
            }
            for i in range(gateways)
        ],
        "txInfo": {
            "frequency": 868100000,
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": sf, "codeRate": "CR_4_5"}},
        },
    }
    if fport is None:
        del ev["fPort"]
    return ev


def tts_up(dev: str, fcnt: int, data: bytes, corr: str = "as:up:01HZX") -> dict:
    """A The Things Stack v3 webhook `uplink_message` as TTS posts it (its ApplicationUp, JSON-mapped)."""
    return {
        "end_device_ids": {
            "device_id": f"eui-{dev.lower()}",
            "application_ids": {"application_id": "bins"},
            "dev_eui": dev,
            "join_eui": "70B3D57ED0000000",
            "dev_addr": "260B1234",
        },
        "correlation_ids": [corr, "gs:uplink:01HZY"],
        "received_at": "2026-11-28T10:00:00.123456789Z",
        "uplink_message": {
            "f_port": 1,
            "f_cnt": fcnt,
            "frm_payload": base64.b64encode(data).decode(),
            "rx_metadata": [
                {
                    "gateway_ids": {"gateway_id": "gw-1", "eui": "B827EBFFFE000001"},
                    "rssi": -101,
                    "channel_rssi": -101,
                    "snr": 3.25,
                }
            ],
            "settings": {
                "data_rate": {"lora": {"bandwidth": 125000, "spreading_factor": 11}},
                "frequency": "868300000",
            },
            "consumed_airtime": "0.988s",
        },
    }


def post_up(client: TestClient, ev: dict, event: str = "up"):  # noqa: ANN201
    return client.post(
        f"/integrations/chirpstack?event={event}",
        content=json.dumps(ev),
        headers={**INGEST, "Content-Type": "application/json"},
    )


def add_device(client: TestClient, headers: dict, **kw) -> dict:  # noqa: ANN003
    body = {"dev_eui": kw.pop("dev_eui", None) or secrets.token_hex(8).upper(), "name": "bin", **kw}
    r = client.post("/api/v1/devices", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def downgrade(engine, revision: str) -> None:  # noqa: ANN001
    """Take the schema back to `revision` (the migration tests' way down; fleet.db.migrate is the way up)."""
    from alembic import command
    from alembic.config import Config

    from fleet import db as fleet_db

    cfg = Config()
    cfg.set_main_option("script_location", str(fleet_db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def schema_diffs(engine, tables: set[str]) -> list:  # noqa: ANN001
    """Where the migrated schema of `tables` differs from the models (autogenerate's comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    return [d for d in diffs if any(name in str(d) for name in tables)]
