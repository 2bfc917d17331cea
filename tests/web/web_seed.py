"""A small, realistic fleet for the page tests, put in through the fleet's real paths: devices through the
provisioning service, tokens as `kumpel fleet token create` stores them, and every reading as a ChirpStack
v4 HTTP-integration `up` event posted to /integrations/chirpstack (so decoding, health and alerts are the
fleet's own, not made up here).
"""

import base64
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from fleet.lns.base import NetworkServer
from fleet.models import ApiToken
from fleet.security import hash_token, new_api_token
from fleet.services import provisioning
from fleet.settings import Settings
from protocols import codec

INGEST_TOKEN = "ingest-token-for-web-tests"
HOSTILE_NAME = '<script>alert("x")</script> & "Schiller" <b>'

HEALTHY = "70B3D57ED0000001"
SILENT = "70B3D57ED0000002"
LOW_BATTERY = "70B3D57ED0000003"
UNKNOWN = "70B3D57ED00000FF"

NODES = (
    # dev_eui, name, street, district, groups
    (HEALTHY, "Marktplatz Nord", "Marktplatz 1", "Mitte", ["Mitte-Nord"]),
    (SILENT, "Bahnhofstraße 12", "Bahnhofstraße 12", "Süd", ["Bahnhof"]),
    (LOW_BATTERY, HOSTILE_NAME, "Schillerplatz 3", "Mitte", ["Mitte-Nord"]),
)


def web_settings(database_url: str, public_url: str = "http://127.0.0.1:8000") -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="web-tests-secret-key-0123456789abcdef",
        ingest_token=INGEST_TOKEN,
        sweep_interval_s=0,
        public_url=public_url,
    )


def make_token(engine, role: str, name: str) -> str:  # noqa: ANN001
    """An API token stored as the fleet stores it (hashed); the raw token is what a person types."""
    raw = new_api_token()
    with Session(engine) as db:
        db.add(ApiToken(name=name, role=role, token_hash=hash_token(raw)))
        db.commit()
    return raw


def add_devices(engine, cfg: Settings) -> None:  # noqa: ANN001
    with Session(engine) as db:
        for dev_eui, name, street, district, groups in NODES:
            data = provisioning.DeviceIn(
                dev_eui=dev_eui,
                join_eui="70B3D57ED0FFFFFF",
                name=name,
                street=street,
                district=district,
                groups=groups,
                bin_height_cm=120,
            )
            provisioning.create_device(db, cfg, NetworkServer(), data)
        db.commit()


def _up_event(
    dev_eui: str,
    when: datetime,
    fcnt: int,
    fport: int,
    frame: bytes,
    rssi: int = -97,
    snr: float = 6.5,
    sf: int = 9,
) -> dict:
    """A ChirpStack v4 `up` event as its HTTP integration posts it (proto3 JSON mapping)."""
    return {
        "deduplicationId": str(uuid.uuid4()),
        "time": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "deviceInfo": {
            "tenantName": "Stadt",
            "applicationName": "abfall",
            "deviceName": dev_eui,
            "devEui": dev_eui.lower(),
        },
        "devAddr": "26011f2a",
        "dr": 12 - sf,
        "fCnt": fcnt,
        "fPort": fport,
        "data": base64.b64encode(frame).decode(),
        "rxInfo": [
            {"gatewayId": "b827ebfffe000001", "rssi": rssi, "snr": snr},
            {"gatewayId": "b827ebfffe000002", "rssi": rssi - 12, "snr": snr - 4},
        ],
        "txInfo": {
            "frequency": 868100000,
            "modulation": {"lora": {"bandwidth": 125000, "spreadingFactor": sf, "codeRate": "CR_4_5"}},
        },
    }


def post_up(client, event: dict) -> None:  # noqa: ANN001
    response = client.post(
        "/integrations/chirpstack?event=up", json=event, headers={"Authorization": f"Bearer {INGEST_TOKEN}"}
    )
    assert response.status_code < 300, response.text


def _measurement(distance_cm: int, temperature_c: float, battery_mv: int, flags: list[str]) -> bytes:
    return codec.encode_measurement(
        {
            "distance_cm": distance_cm,
            "no_echo": False,
            "temperature_c": temperature_c,
            "humidity_pct": 60.0,
            "battery_mv": battery_mv,
            "flags": flags,
        }
    )


def post_history(client, now: datetime | None = None) -> None:  # noqa: ANN001
    """Three days of uplinks, one every 2 h (the default 15 min x 8 readings): a healthy node whose bin
    fills and is emptied, a node that went silent 5 h ago, and a node with a dying battery and a full bin
    that rebooted by watchdog."""
    now = now or datetime.now(UTC)
    step = timedelta(hours=2)
    for i in range(36):
        when = now - timedelta(minutes=30) - (35 - i) * step
        fill_cycle = (i % 18) / 18  # emptied every 36 h
        distance = int(110 - 90 * fill_cycle)
        temperature = 8.0 + 6.0 * ((i % 12) / 12)
        post_up(client, _up_event(HEALTHY, when, i + 1, 1, _measurement(distance, temperature, 3650 - i, [])))
    for i in range(30):
        when = now - timedelta(hours=5) - (29 - i) * step
        post_up(
            client,
            _up_event(
                SILENT, when, i + 1, 1, _measurement(80, 5.0 + i * 0.1, 3600, []), rssi=-115, snr=-7.5, sf=12
            ),
        )
    for i in range(30):
        when = now - timedelta(minutes=20) - (29 - i) * step
        battery = 3400 - 6 * i  # falling 72 mV a day: a few days left
        flags = ["bin_full"] if i >= 27 else []
        post_up(
            client, _up_event(LOW_BATTERY, when, i + 1, 1, _measurement(15 + i % 2, 11.0, battery, flags))
        )
    status = codec.encode_status(
        {
            "fw_version": "1.0.0",
            "config_version": 0,
            "reset_cause": "watchdog",
            "wake_count": 40,
            "sensor_errors": 0,
            "radio_errors": 1,
            "watchdog_resets": 1,
            "battery_mv": 3240,
            "rssi": -90,
            "snr": 5,
            "join_count": 1,
        }
    )
    post_up(client, _up_event(LOW_BATTERY, now - timedelta(minutes=19), 31, 3, status))
    post_up(client, _up_event(UNKNOWN, now - timedelta(minutes=10), 7, 1, _measurement(50, 10.0, 3700, [])))


def seed(client, engine, cfg: Settings) -> dict[str, str]:  # noqa: ANN001
    """The whole fleet; returns raw tokens by role."""
    add_devices(engine, cfg)
    post_history(client)
    return {role: make_token(engine, role, f"Crew {role}") for role in ("viewer", "technician", "admin")}


def signin_csrf(client) -> str:  # noqa: ANN001
    """The sign-in form's CSRF token, as a browser gets it: GET /signin (which sets the form's cookie)."""
    import re

    form = client.get("/signin")
    return re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
