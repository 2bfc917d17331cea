"""Adding devices works in every KUMPEL_LNS mode (issue 10); registration with the network server is a
separate step whose outcome is reported — automated only for ChirpStack's gRPC API."""

import socket

import pytest
from fastapi.testclient import TestClient
from fleet_helpers import make_token, wipe
from typer.testing import CliRunner

from fleet.app import create_app
from fleet.cli import app as fleet_cli

MODES = {
    "ttn": {
        "lns": "ttn",
        "tts_url": "https://eu1.cloud.thethings.network",
        "tts_application_id": "bins",
        "tts_webhook_id": "kumpel",
        "tts_api_key": "NNSXS.TEST",
    },
    "chirpstack-mqtt": {"lns": "chirpstack-mqtt", "chirpstack_application_id": "app-1"},
    "none": {"lns": "none"},
}


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=list(MODES))
def mode_client(request, settings):  # noqa: ANN001, ANN201
    if request.param == "chirpstack-mqtt" and not _broker_up():
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    cfg = settings.model_copy(update=MODES[request.param])
    app = create_app(cfg)  # the adapter KUMPEL_LNS selects, as in production
    wipe(cfg.database_url)
    with TestClient(app) as c:
        c.tech = make_token(app, "technician")
        c.mode = request.param
        yield c


def test_add_device_api_and_csv_work_in_every_lns_mode(mode_client):
    c = mode_client
    r = c.post("/api/v1/devices", json={"dev_eui": "70B3D57ED0003333", "name": "bin"}, headers=c.tech)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["lns_registered"] is False and doc["app_key"]
    assert doc["registration"].startswith("not registered"), doc["registration"]
    csv = "dev_eui,name\n70B3D57ED0004444,second\n"
    r = c.post("/api/v1/devices/import", content=csv, headers={**c.tech, "Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["counts"]["created"] == 1, r.text
    assert r.json()["rows"][0]["registration"].startswith("not registered")
    # Asking for registration explicitly says why it cannot be done here: a 409, nothing changed.
    r = c.post("/api/v1/devices/70B3D57ED0003333/register", headers=c.tech)
    assert r.status_code == 409 and r.json()["detail"], r.text
    assert len(c.get("/api/v1/devices", headers=c.tech).json()) == 2


@pytest.mark.parametrize("mode", ["ttn", "chirpstack-mqtt"])
def test_cli_devices_add_works_without_automated_registration(tmp_path, monkeypatch, mode):
    if mode == "chirpstack-mqtt" and not _broker_up():
        pytest.skip("no MQTT broker on 127.0.0.1:1883")
    monkeypatch.setenv("KUMPEL_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("KUMPEL_ENV", "development")
    monkeypatch.setenv("COLUMNS", "200")
    for key, value in MODES[mode].items():
        monkeypatch.setenv(f"KUMPEL_{key.upper()}", value)
    assert CliRunner().invoke(fleet_cli, ["init"]).exit_code == 0
    result = CliRunner().invoke(fleet_cli, ["devices", "add", "--dev-eui", "70B3D57ED0005555"])
    assert result.exit_code == 0, result.output
    assert "created 70B3D57ED0005555" in result.output and "not registered" in result.output
