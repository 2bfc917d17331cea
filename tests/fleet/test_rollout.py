"""Staged rollouts through the API: batches, the failure threshold that halts, resume and abort."""

from fleet_helpers import add_device, cs_up, post_up

from protocols import codec

BATCH_SIZE_ID = 2


def _report(client, lns, dev: str, status: str, fcnt: int) -> None:  # noqa: ANN001
    item = next(i for i in reversed(lns.enqueued) if i["dev_eui"] == dev and i["fport"] == codec.PORT_CONFIG)
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
