"""Tokens and roles through HTTP: who may read, who may change, who may see keys."""

import pytest
from fleet_helpers import add_device
from sqlmodel import select

from fleet.models import ApiToken, Device
from fleet.settings import DEV_SECRET, Settings


def test_missing_and_wrong_tokens_are_401(client):
    r = client.get("/api/v1/devices")
    assert r.status_code == 401 and "bearer" in r.json()["detail"].lower()
    r = client.get("/api/v1/devices", headers={"Authorization": "Bearer kmp_not-a-token"})
    assert r.status_code == 401 and "unknown" in r.json()["detail"]


def test_viewer_reads_but_cannot_change_or_see_keys(client, viewer, tech):
    created = add_device(client, tech, name="Marktplatz 1")
    assert len(created["app_key"]) == 32  # shown once, to the technician
    r = client.post("/api/v1/devices", json={"name": "x"}, headers=viewer)
    assert r.status_code == 403 and "technician" in r.json()["detail"]
    listed = client.get("/api/v1/devices", headers=viewer).json()
    one = client.get(f"/api/v1/devices/{created['dev_eui']}", headers=viewer).json()
    for doc in (listed[0], one):
        assert "app_key" not in doc and "app_key_enc" not in doc
    assert (
        created["app_key"]
        not in client.get(f"/api/v1/devices/{created['dev_eui']}/events", headers=tech).text
    )
    assert (
        client.put(
            f"/api/v1/devices/{created['dev_eui']}/config",
            json={"settings": {"batch_size": 4}},
            headers=viewer,
        ).status_code
        == 403
    )
    assert client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=tech).status_code == 403


def test_appkey_is_encrypted_at_rest(client, tech, db):
    created = add_device(client, tech)
    row = db.exec(select(Device).where(Device.dev_eui == created["dev_eui"])).one()
    assert created["app_key"] not in row.app_key_enc and created["app_key"].lower() not in row.app_key_enc


def test_admin_creates_and_revokes_tokens(client, admin, db):
    r = client.post("/api/v1/tokens", json={"name": "crew 3", "role": "viewer"}, headers=admin)
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["id"]
    assert token not in {t.token_hash for t in db.exec(select(ApiToken)).all()}  # only the hash is stored
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/devices", headers=h).status_code == 200
    assert client.post("/api/v1/tokens", json={"name": "x", "role": "root"}, headers=admin).status_code == 400
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=admin).status_code == 204
    assert client.get("/api/v1/devices", headers=h).status_code == 401


def test_default_secret_refused_outside_development():
    with pytest.raises(ValueError, match="KUMPEL_SECRET_KEY"):
        Settings(env="production", secret_key=DEV_SECRET)
    assert Settings(env="development").secret_key == DEV_SECRET
