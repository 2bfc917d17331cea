"""Several fleet workers on one PostgreSQL database: the periodic sweep and the downlink dispatch run as
if there were one process (no alert opened twice, no downlink sent twice), and SQLite refuses to be
served by several processes."""

import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from fleet_helpers import MEASUREMENT, RecordingNetworkServer, add_device, cs_up, post_up
from sqlmodel import Session, select
from typer.testing import CliRunner

from fleet.cli import app as fleet_cli
from fleet.models import Alert, Downlink, utcnow
from fleet.services import downlinks
from fleet.services.sweep import sweep


class SlowNetworkServer(RecordingNetworkServer):
    """A network server whose enqueue takes a while (a real gRPC round trip does), so two passes that
    start together overlap. Thread-safe: both passes call it."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def enqueue(self, **kw) -> str:  # noqa: ANN003
        time.sleep(0.05)
        with self._lock:
            return super().enqueue(**kw)


def _pg_only(settings) -> None:  # noqa: ANN001
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several workers share one database only on PostgreSQL (SQLite: one process)")


def _due_work(client, tech, n: int) -> list[str]:  # noqa: ANN001
    """n nodes, each with a config downlink sent once and an uplink now: three hours later each is
    offline and its downlink due for a retry."""
    devs = [add_device(client, tech, name=f"bin {i}")["dev_eui"] for i in range(n)]
    for dev in devs:
        assert post_up(client, cs_up(dev, 1, MEASUREMENT, fcnt=1)).json()["result"] == "stored"
        body = {"settings": {"bin_height_cm": 150}}
        r = client.put(f"/api/v1/devices/{dev}/config", json=body, headers=tech)
        assert r.status_code < 300, r.text
    return devs


def _together(*jobs):  # noqa: ANN002, ANN202
    """Run the jobs in threads released at the same instant; return their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i: int, job) -> None:  # noqa: ANN001
        barrier.wait()
        results[i] = job()

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_two_sweepers_send_each_downlink_once_and_open_each_alert_once(app, client, tech, settings):
    _pg_only(settings)
    devs = _due_work(client, tech, 8)
    lns = SlowNetworkServer()
    later = utcnow() + timedelta(hours=3)

    def one_pass() -> dict:
        with Session(app.state.engine) as s:
            return sweep(s, lns, settings, now=later)

    a, b = _together(one_pass, one_pass)
    assert len(lns.enqueued) == len(devs), (a, b)  # one retry per node, from one worker
    with Session(app.state.engine) as s:
        offline = s.exec(select(Alert.device_id).where(Alert.kind == "offline")).all()
        assert len(offline) == len(set(offline)) == len(devs)
        assert {d.attempts for d in s.exec(select(Downlink)).all()} == {2}
    assert sorted(x.get("skipped", "") for x in (a, b)) == ["", "another worker is sweeping"]
    # the pass after sees the work done: nothing sent or opened again
    again = one_pass()
    assert again["downlinks"]["sent"] == 0 and again["offline_alerts_opened"] == 0


def test_writer_dispatch_skips_downlinks_the_sweep_is_sending(app, client, tech, settings):
    """The sweep (worker A) and a worker's writer sending what is due after an uplink (worker B) at once."""
    _pg_only(settings)
    _due_work(client, tech, 6)
    lns = SlowNetworkServer()
    later = utcnow() + timedelta(hours=3)

    def dispatch() -> dict:
        with Session(app.state.engine) as s:
            counts = downlinks.dispatch(s, lns, settings, now=later)
            s.commit()
            return counts

    a, b = _together(dispatch, dispatch)
    assert a["sent"] + b["sent"] == 6 and len(lns.enqueued) == 6, (a, b)


def test_serve_refuses_several_workers_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("KUMPEL_DATABASE_URL", f"sqlite:///{tmp_path / 'fleet.db'}")
    result = CliRunner().invoke(fleet_cli, ["serve", "--workers", "2"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "--workers 2 needs PostgreSQL" in text and "SQLite" in text, result.output
    assert not (tmp_path / "fleet.db").exists()  # refused before anything was created


def test_metrics_show_what_to_watch(client, tech):
    """The figures deploy/README.md tells operators to watch are on /metrics."""
    dev = add_device(client, tech)["dev_eui"]
    assert post_up(client, cs_up(dev, 1, MEASUREMENT, fcnt=1)).json()["result"] == "stored"
    # /metrics answers KUMPEL_METRICS_NETWORKS (default loopback) or a metrics token: scrape from loopback.
    text = TestClient(client.app, client=("127.0.0.1", 50000)).get("/metrics").text
    for name in (
        'kumpel_uplinks_total{result="stored",source="chirpstack"} 1.0',  # ingest rate: rate() of it
        "kumpel_ingest_queue_depth 0.0",
        "kumpel_ingest_commit_seconds_count 1.0",
        "kumpel_ingest_batch_size_count 1.0",
        "kumpel_decode_errors_total",
        'kumpel_nodes_connectivity{state="offline"} 0.0',
        "kumpel_ingest_unavailable_total 0.0",
    ):
        assert name in text, name
