"""Staged rollouts through the API: batches, the failure threshold that halts, resume and abort."""

import pytest
from fleet_helpers import add_device, cs_up, post_up
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from fleet import db as fleet_db
from protocols import codec

BATCH_SIZE_ID = 2


def _report(client, lns, dev: str, status: str, fcnt: int) -> None:  # noqa: ANN001
    def mine(i: dict) -> bool:
        return i["dev_eui"] == dev and i["fport"] == codec.PORT_CONFIG

    item = next(i for i in reversed(lns.wait_for(lambda sent: any(map(mine, sent)))) if mine(i))
    version = codec.decode_downlink(item["fport"], item["payload"])["config_version"]
    frame = codec.encode_config_report(version, [(BATCH_SIZE_ID, status)])
    assert (
        post_up(client, cs_up(dev, codec.PORT_CONFIG_REPORT, frame, fcnt=fcnt)).json()["result"] == "stored"
    )


def _group(client, tech, n: int) -> list[str]:  # noqa: ANN001
    return [add_device(client, tech, groups=["nord"])["dev_eui"] for _ in range(n)]  # rollout order: creation


def test_rollout_batches_halt_resume_complete(client, tech, lns):
    devs = _group(client, tech, 6)
    r = client.post(
        "/api/v1/rollouts",
        json={"group": "nord", "settings": {"batch_size": 4}, "batch_size": 2, "failure_threshold_pct": 0},
        headers=tech,
    )
    assert r.status_code == 201, r.text
    ro = r.json()
    assert ro["state"] == "running" and ro["counts"] == {"in_progress": 2, "pending": 4}
    assert {i["dev_eui"] for i in lns.enqueued} == set(devs[:2])  # only the first batch got a downlink
    _report(client, lns, devs[0], "ok", 1)
    _report(client, lns, devs[1], "ok", 1)
    ro = client.get(f"/api/v1/rollouts/{ro['id']}", headers=tech).json()
    assert ro["current_batch"] == 1 and ro["counts"] == {"succeeded": 2, "in_progress": 2, "pending": 2}
    _report(client, lns, devs[2], "ok", 1)
    _report(client, lns, devs[3], "out_of_range", 1)  # one failure > 0 % threshold: halt
    ro = client.get(f"/api/v1/rollouts/{ro['id']}", headers=tech).json()
    assert ro["state"] == "halted" and "1 of 2 nodes failed" in ro["halt_reason"]
    failed = next(n for n in ro["nodes"] if n["dev_eui"] == devs[3])
    assert failed["state"] == "failed" and "out_of_range" in failed["detail"]
    assert {i["dev_eui"] for i in lns.enqueued}.isdisjoint(devs[4:])  # the halt held the last batch back
    assert client.post(f"/api/v1/rollouts/{ro['id']}/abort", headers={}).status_code == 401
    r = client.post(f"/api/v1/rollouts/{ro['id']}/resume", headers=tech)
    assert r.json()["state"] == "running" and r.json()["current_batch"] == 2
    _report(client, lns, devs[4], "ok", 1)
    _report(client, lns, devs[5], "ok", 1)
    ro = client.get(f"/api/v1/rollouts/{ro['id']}", headers=tech).json()
    assert ro["state"] == "completed"
    assert client.get("/api/v1/groups/nord", headers=tech).json()["config"] == {"batch_size": 4}
    assert client.post(f"/api/v1/rollouts/{ro['id']}/resume", headers=tech).status_code == 409


def test_abort_skips_the_rest_and_bad_settings_are_refused(client, tech, lns):
    _group(client, tech, 3)
    r = client.post("/api/v1/rollouts", json={"group": "nord", "settings": {"batch_size": 99}}, headers=tech)
    assert r.status_code == 400 and "batch_size=99: out_of_range" in r.json()["detail"]
    r = client.post(
        "/api/v1/rollouts", json={"group": "nowhere", "settings": {"batch_size": 2}}, headers=tech
    )
    assert r.status_code == 404
    r = client.post(
        "/api/v1/rollouts",
        json={"group": "nord", "settings": {"batch_size": 2}, "batch_size": 1},
        headers=tech,
    )
    ro = client.post(f"/api/v1/rollouts/{r.json()['id']}/abort", headers=tech).json()
    assert ro["state"] == "aborted" and ro["counts"] == {"in_progress": 1, "skipped": 2}


def test_one_unfinished_rollout_per_group(client, tech, lns):
    """Two rollouts at once would overwrite each other's overrides: a second one is refused, nothing is
    queued for it, and a new one may start once the first is aborted."""
    _group(client, tech, 2)
    body = {"group": "nord", "settings": {"batch_size": 2}, "batch_size": 1}
    first = client.post("/api/v1/rollouts", json=body, headers=tech).json()
    queued = len(lns.enqueued)
    r = client.post("/api/v1/rollouts", json={**body, "settings": {"batch_size": 3}}, headers=tech)
    assert r.status_code == 400
    assert f"already has rollout {first['id']} (running)" in r.json()["detail"]
    assert len(client.get("/api/v1/rollouts", headers=tech).json()) == 1 and len(lns.enqueued) == queued
    r = client.post("/api/v1/rollouts", json={**body, "batch_size": 0}, headers=tech)
    assert r.status_code == 422  # the API's own field limits answer first
    client.post(f"/api/v1/rollouts/{first['id']}/abort", headers=tech)
    r = client.post("/api/v1/rollouts", json={**body, "settings": {"batch_size": 3}}, headers=tech)
    assert r.status_code == 201 and r.json()["state"] == "running"


def test_the_database_refuses_a_second_unfinished_rollout(client, tech, lns, monkeypatch):
    """SQLite has no row lock, so two simultaneous starts (a double-click) can both pass the service's
    check; the partial unique index of migration 0003 stops the second, which gets the same clear 400,
    and the service keeps serving from the same session."""
    from fleet.services import rollout as rollout_service

    _group(client, tech, 2)
    body = {"group": "nord", "settings": {"batch_size": 2}, "batch_size": 1}
    first = client.post("/api/v1/rollouts", json=body, headers=tech).json()
    real = rollout_service.unfinished_for
    calls = []

    def racing(session, group):  # noqa: ANN001, ANN202 - the check runs before the other start commits
        calls.append(group.name)
        return None if len(calls) == 1 else real(session, group)

    monkeypatch.setattr(rollout_service, "unfinished_for", racing)
    r = client.post("/api/v1/rollouts", json={**body, "settings": {"batch_size": 3}}, headers=tech)
    assert r.status_code == 400, r.text
    assert f"already has rollout {first['id']} (running)" in r.json()["detail"]
    assert len(calls) == 2  # refused by the index, then explained from the committed rollout
    monkeypatch.undo()
    rows = client.get("/api/v1/rollouts", headers=tech).json()
    assert [ro["id"] for ro in rows] == [first["id"]]


def test_migration_0003_keeps_the_newest_unfinished_rollout_per_group(tmp_path):
    """Databases from before the rule may hold several unfinished rollouts of one group: the upgrade keeps
    the newest, aborts the older ones with a reason, and leaves other groups and finished ones alone."""

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    fleet_db.migrate(engine, "0002")
    now = "2026-11-01 08:00:00.000000"
    with engine.begin() as c:
        for gid, name in ((1, "nord"), (2, "sued")):
            c.execute(
                text(
                    "INSERT INTO device_group (id, name, description, config, created_at)"
                    " VALUES (:id, :name, '', '{}', :now)"
                ),
                {"id": gid, "name": name, "now": now},
            )
        for rid, gid, state in ((1, 1, "running"), (2, 1, "halted"), (3, 1, "completed"), (4, 2, "running")):
            c.execute(
                text(
                    "INSERT INTO rollout (id, group_id, settings, batch_size, failure_threshold_pct, state,"
                    " current_batch, created_at, updated_at) VALUES (:id, :gid, '{}', 1, 20, :state, 0,"
                    " :now, :now)"
                ),
                {"id": rid, "gid": gid, "state": state, "now": now},
            )
    fleet_db.migrate(engine)
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, state, halt_reason FROM rollout ORDER BY id")).all()
    states = [(r.id, r.state) for r in rows]
    assert states == [(1, "aborted"), (2, "halted"), (3, "completed"), (4, "running")]
    assert "superseded" in rows[0].halt_reason and rows[1].halt_reason is None
    with pytest.raises(IntegrityError), engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO rollout (group_id, settings, batch_size, failure_threshold_pct, state,"
                " current_batch, created_at, updated_at) VALUES (2, '{}', 1, 20, 'running', 0, :now, :now)"
            ),
            {"now": now},
        )
