"""Verifications through HTTP: `kumpel node verify` reports runs; the first pass makes a device provisioned.
Plus the 0001 -> 0002 migration on an existing SQLite file (the workaround tags become provisioned_at)."""

import json
from datetime import UTC, datetime

import pytest
from fleet_helpers import add_device
from sqlalchemy import create_engine, inspect, text

from fleet import db as fleet_db
from fleet.models import utcnow

API = "/api/v1/devices"


def _checks(**results: bool) -> list[dict]:
    return [{"name": name, "ok": ok, "detail": "sane" if ok else "no answer"} for name, ok in results.items()]


def _report(client, headers, dev_eui: str, checks: list[dict], **extra):  # noqa: ANN001, ANN003, ANN202
    body = {"checks": checks, "micropython": "1.27.0", "tool": "kumpel-node 0.1.0", **extra}
    return client.post(f"{API}/{dev_eui}/verifications", json=body, headers=headers)


def test_provisioned_only_after_a_pass_and_a_later_failure_keeps_it(client, tech, viewer):
    dev = add_device(client, tech)["dev_eui"]
    fresh = client.get(f"{API}/{dev}", headers=viewer).json()
    assert fresh["provisioned_at"] is None and fresh["last_verification"] is None

    r = _report(client, tech, dev, _checks(ultrasonic=False, climate=True, modem_deveui=False))
    assert r.status_code == 201, r.text
    failed = r.json()
    assert failed["ok"] is False and failed["failed"] == ["ultrasonic", "modem_deveui"]
    assert failed["provisioned_at"] is None and failed["dev_eui"] == dev
    assert failed["author"] == "test-technician" and failed["micropython"] == "1.27.0"
    assert client.get(f"{API}/{dev}", headers=viewer).json()["provisioned_at"] is None

    passed = _report(client, tech, dev, _checks(ultrasonic=True, climate=True, modem_deveui=True)).json()
    assert passed["ok"] is True and passed["failed"] == []
    assert passed["provisioned_at"] is not None
    provisioned_at = datetime.fromisoformat(passed["provisioned_at"])
    assert abs((provisioned_at.replace(tzinfo=provisioned_at.tzinfo or UTC) - utcnow()).total_seconds()) < 60

    again = _report(client, tech, dev, _checks(ultrasonic=True, climate=False)).json()
    assert again["ok"] is False and again["provisioned_at"] == passed["provisioned_at"]  # not unset
    device = client.get(f"{API}/{dev}", headers=viewer).json()
    assert device["provisioned_at"] == passed["provisioned_at"]
    assert device["last_verification"]["ok"] is False and device["last_verification"]["failed"] == ["climate"]

    runs = client.get(f"{API}/{dev}/verifications", headers=viewer).json()
    assert [v["id"] for v in runs] == [again["id"], passed["id"], failed["id"]]  # newest first
    # each check as reported, plus its (here empty) code and params for the pages' wording
    assert runs[0]["checks"] == [
        {**c, "code": "", "params": {}} for c in _checks(ultrasonic=True, climate=False)
    ]
    one = client.get(f"{API}/{dev}/verifications?limit=1", headers=viewer).json()
    assert [v["id"] for v in one] == [again["id"]]

    health = client.get(f"{API}/{dev}/health", headers=viewer).json()
    assert health["provisioning"]["provisioned_at"] is not None
    assert health["provisioning"]["last_verification"]["failed"] == ["climate"]
    assert all(r["code"] != "not_verified" for r in health["reasons"])


def test_device_list_carries_the_latest_verification_and_filters_on_provisioned(client, tech, viewer):
    a = add_device(client, tech, name="a")["dev_eui"]
    b = add_device(client, tech, name="b")["dev_eui"]
    c = add_device(client, tech, name="c")["dev_eui"]
    _report(client, tech, a, _checks(selftest=True))
    _report(client, tech, a, _checks(selftest=False))  # newest for a: failed, still provisioned
    _report(client, tech, b, _checks(selftest=False))
    listed = {d["dev_eui"]: d for d in client.get(API, headers=viewer).json()}
    assert listed[a]["provisioned_at"] is not None and listed[a]["last_verification"]["failed"] == [
        "selftest"
    ]
    assert listed[b]["provisioned_at"] is None and listed[b]["last_verification"]["ok"] is False
    assert listed[c]["provisioned_at"] is None and listed[c]["last_verification"] is None
    assert len(listed) == 3  # an outer join: one row per device however many runs it has

    yes = [d["dev_eui"] for d in client.get(f"{API}?provisioned=true", headers=viewer).json()]
    no = [d["dev_eui"] for d in client.get(f"{API}?provisioned=false", headers=viewer).json()]
    assert yes == [a] and sorted(no) == sorted([b, c])
    assert client.get(f"{API}?provisioned=maybe", headers=viewer).status_code == 422


def test_new_keys_mean_verify_again(client, tech, admin):
    dev = add_device(client, tech)["dev_eui"]
    _report(client, tech, dev, _checks(selftest=True))
    assert client.get(f"{API}/{dev}", headers=tech).json()["provisioned_at"] is not None
    assert client.post(f"{API}/{dev}/keys", headers=tech).status_code == 200
    device = client.get(f"{API}/{dev}", headers=tech).json()
    assert device["provisioned_at"] is None and device["last_verification"]["ok"] is True  # history kept
    kinds = [e["kind"] for e in client.get(f"{API}/{dev}/events", headers=tech).json()]
    assert "unprovisioned" in kinds and "provisioned" in kinds


def test_viewer_cannot_report_and_unknown_device_is_404(client, tech, viewer):
    dev = add_device(client, tech)["dev_eui"]
    r = _report(client, viewer, dev, _checks(selftest=True))
    assert r.status_code == 403 and "technician" in r.json()["detail"]
    r = _report(client, tech, "0000000000000042", _checks(selftest=True))
    assert r.status_code == 404 and "0000000000000042" in r.json()["detail"]
    assert client.get(f"{API}/0000000000000042/verifications", headers=viewer).status_code == 404
    assert client.get(f"{API}/{dev}/verifications", headers=viewer).json() == []
    assert _report(client, {}, dev, _checks(selftest=True)).status_code == 401


@pytest.mark.parametrize(
    ("checks", "extra", "said"),
    [
        ([], {}, "at least one check"),
        (None, {}, "checks"),
        ([{"name": "", "ok": True}], {}, "name must not be empty"),
        ([{"name": "   ", "ok": True}], {}, "name must not be empty"),
        ([{"name": "x" * 65, "ok": True}], {}, "at most 64 characters"),
        ([{"name": "modem", "ok": True, "detail": "d" * 501}], {}, "at most 500 characters"),
        ([{"name": f"c{i}", "ok": True} for i in range(65)], {}, "at most 64 checks"),
        ([{"name": "modem", "ok": True}, {"name": "modem", "ok": False}], {}, "reported twice"),
        ([{"name": "modem"}], {}, "ok"),
        ([{"name": "modem", "ok": "perhaps"}], {}, "ok"),
        ([{"name": "modem", "ok": True, "pass": True}], {}, "pass"),
        ([{"name": "modem", "ok": True}], {"ok": True}, "ok"),  # the fleet decides pass/fail itself
    ],
)
def test_bad_bodies_are_422_with_the_reason_and_store_nothing(client, tech, checks, extra, said):
    dev = add_device(client, tech)["dev_eui"]
    body = {**({"checks": checks} if checks is not None else {}), **extra}
    r = client.post(f"{API}/{dev}/verifications", json=body, headers=tech)
    assert r.status_code == 422, r.text
    assert said in r.text
    assert client.get(f"{API}/{dev}/verifications", headers=tech).json() == []
    assert client.get(f"{API}/{dev}", headers=tech).json()["provisioned_at"] is None


def test_limits_are_inclusive(client, tech):
    dev = add_device(client, tech)["dev_eui"]
    checks = [{"name": f"{i:02d}" + "n" * 62, "ok": True, "detail": "d" * 500} for i in range(64)]
    r = _report(client, tech, dev, checks)
    assert r.status_code == 201, r.text[:300]
    assert len(r.json()["checks"]) == 64 and r.json()["provisioned_at"] is not None


# --- migration 0001 -> 0002 on an existing database ------------------------------------------------------
def test_upgrade_from_0001_keeps_data_and_turns_the_workaround_tags_into_provisioned_at(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    fleet_db.migrate(engine, "0001")
    created = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    passed = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with engine.begin() as c:
        for i, tags in enumerate((["provisioned", "altstadt"], ["provisioning"], ["nord"]), start=1):
            c.execute(
                text(
                    "INSERT INTO device (id, dev_eui, join_eui, name, hardware_model, board, street,"
                    " district, app_key_enc, tags, lns_registered, created_at, expected_interval_s, rejoins,"
                    " health_status, health_reasons, health_rank, health_stale) VALUES (:id, :eui,"
                    " '0000000000000000', :name, '', 'devkit_rak3172', '', '', 'enc', :tags, 0, :created,"
                    " 7200, 0, 'unknown', '[]', 1, 0)"
                ),
                {
                    "id": i,
                    "eui": f"70B3D57ED000000{i}",
                    "name": f"Bin {i}",
                    "tags": json.dumps(tags),
                    "created": created.strftime("%Y-%m-%d %H:%M:%S.%f"),
                },
            )
        c.execute(
            text(
                "INSERT INTO maintenancenote (device_id, author, text, created_at)"
                " VALUES (1, 'depot', 'kumpel node verify passed (MicroPython 1.27.0)', :at),"
                " (1, 'crew', 'lid repaired', :later)"
            ),
            {"at": passed.strftime("%Y-%m-%d %H:%M:%S.%f"), "later": "2026-11-03 10:00:00.000000"},
        )
    fleet_db.migrate(engine, "0002")  # the step under test (head is newer)

    with engine.connect() as c:
        rows = c.execute(text("SELECT dev_eui, name, tags, provisioned_at FROM device ORDER BY id")).all()
        notes = c.execute(text("SELECT text FROM maintenancenote ORDER BY id")).scalars().all()
        version = c.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0002"
    assert [(r.dev_eui, r.name) for r in rows] == [(f"70B3D57ED000000{i}", f"Bin {i}") for i in (1, 2, 3)]
    assert [json.loads(r.tags) for r in rows] == [["altstadt"], [], ["nord"]]
    assert rows[0].provisioned_at.startswith("2026-11-02 09:30")  # the newest "verify passed" note
    assert rows[1].provisioned_at is None and rows[2].provisioned_at is None
    assert len(notes) == 2  # nothing else touched
    assert "verification" in inspect(engine).get_table_names()
    engine.dispose()
