"""Nothing acknowledged is lost when a part fails under load (issue 13 §4), on the real PostgreSQL:
a fleet worker killed with SIGKILL, and PostgreSQL itself stopped and started again. Each test reports
acknowledged vs stored; they take 10-30 s each, so they are marked slow (and pg)."""

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from fault_load import LoadResult, post_all, serving, stored_dedup_ids
from fleet_helpers import INGEST_TOKEN, add_device, fleet_settings, make_token

from fleet.app import create_app

pytestmark = [pytest.mark.slow, pytest.mark.pg]
KUMPEL = Path(sys.executable).parent / "kumpel"


def _pg_only(settings) -> None:  # noqa: ANN001
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("fault tests of several workers / a database restart run on PostgreSQL")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _connections(pid: int, port: int) -> int:
    """Established TCP connections a process holds on `port` (its socket fds matched in /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            if local_port == port and cols[3] == "01" and cols[9] in inodes:  # 01 = ESTABLISHED
                count += 1
    return count


def _workers(supervisor: int) -> list[int]:
    """PIDs of uvicorn's worker processes (multiprocessing spawn children of the supervisor)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == supervisor and b"spawn_main" in cmd:
            pids.append(int(entry.name))
    return sorted(pids)


def _wait(predicate, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_kill_9_of_one_http_worker_loses_nothing_acknowledged(client, tech, settings):
    """`kumpel fleet serve --workers 2`, 16 clients posting; one worker is SIGKILLed mid-load. Requests it
    held fail at the client, which posts them again (to the surviving worker): every acknowledged uplink
    is stored exactly once, and uvicorn's supervisor starts a replacement worker."""
    _pg_only(settings)
    devs = [add_device(client, tech, name=f"bin {i}")["dev_eui"] for i in range(16)]
    port = _free_port()
    env = {
        **os.environ,
        "KUMPEL_ENV": "test",
        "KUMPEL_DATABASE_URL": settings.database_url,
        "KUMPEL_SECRET_KEY": settings.secret_key,
        "KUMPEL_INGEST_TOKEN": INGEST_TOKEN,
        "KUMPEL_SWEEP_INTERVAL_S": "0",
    }
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(KUMPEL), "fleet", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    t_start = time.monotonic()
    try:
        _wait(lambda: len(_workers(proc.pid)) == 2 and _answers(f"{base}/healthz"), 40, "two workers")
        victim = _workers(proc.pid)[0]
        t_start = time.monotonic() - t_start

        async def load_and_kill():  # noqa: ANN202
            t0 = time.monotonic()
            progress = LoadResult()
            task = asyncio.create_task(post_all(base, devs, 25, time.monotonic() + 60, out=progress))
            # strike a quarter of the way in, whatever the machine's speed: a fixed delay missed the load
            # on a quiet machine (it had finished) and hit no request in flight
            while len(progress.acked) < 16 * 25 // 4 and not task.done():
                await asyncio.sleep(0.005)
            # the worker holding the most client connections: the kernel may hand all of them to one worker
            nonlocal victim
            victim = max(_workers(proc.pid), key=lambda pid: _connections(pid, port))
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic() - t0
            result = await task
            took = time.monotonic() - t0
            print(f"\nworkers up in {t_start:.1f} s, killed at {killed:.1f} s, load took {took:.1f} s")
            return result

        result = asyncio.run(load_and_kill())
        _wait(lambda: len(_workers(proc.pid)) == 2, 30, "uvicorn to replace the killed worker")
        assert victim not in _workers(proc.pid)
        # whichever worker answers the scrape counts the uplinks all workers stored, the dead one's too
        scraped = {_stored_counted(httpx.get(f"{base}/metrics", timeout=5).text) for _ in range(6)}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    stored = stored_dedup_ids(settings.database_url)
    print(
        f"\nkill -9 of a worker: {len(result.acked)} acknowledged, {len(result.acked & set(stored))} of them "
        f"stored, {sum(stored.values())} uplink rows, {result.retried} client retries, "
        f"codes {dict(result.codes)}"
    )
    assert result.transport_errors > 0, "the kill hit no request in flight: the test proved nothing"
    assert len(result.acked) == 16 * 25
    assert result.acked <= set(stored) and all(stored[d] == 1 for d in result.acked)
    assert sum(stored.values()) == len(result.acked)  # retried in-flight requests stored once
    # every worker reports one total, the dead one's counts included; an uplink the victim committed but was
    # killed before counting is stored (above) yet uncounted: at most one per request the kill broke
    assert len(scraped) == 1, scraped
    assert len(result.acked) - result.transport_errors <= scraped.pop() <= len(result.acked)


def _stored_counted(exposition: str) -> int:
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in exposition.splitlines()
            if line.startswith("kumpel_uplinks_total{") and 'result="stored"' in line
        )
    )


@pytest.fixture
def private_pg():  # noqa: ANN201
    """A PostgreSQL server of our own in a temp directory (the shared one must not be restarted), on an
    ephemeral loopback port. PostgreSQL refuses to run as root: then it runs as the `postgres` user."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not bins:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    bindir = bins[-1].parent
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    tmp = Path(tempfile.mkdtemp(prefix="kumpel-pg-"))
    if as_user:
        shutil.chown(tmp, "postgres")
    data, port = tmp / "data", _free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1"
    ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(tmp / "log"), "-o", opts]

    def start() -> None:
        subprocess.run([*ctl, "-w", "-t", "20", "start"], check=True, capture_output=True)

    def stop(mode: str = "immediate") -> None:  # immediate: no shutdown checkpoint, as a crash
        subprocess.run([*ctl, "-w", "-m", mode, "stop"], check=True, capture_output=True)

    t0 = time.monotonic()
    start()
    print(f"\nprivate PostgreSQL up in {time.monotonic() - t0:.1f} s")
    yield {"url": f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", "start": start, "stop": stop}
    subprocess.run([*ctl, "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def fleet_on(private_pg):  # noqa: ANN001, ANN201
    """The fleet app under a real uvicorn on loopback, on the private PostgreSQL."""
    app = create_app(fleet_settings(private_pg["url"]))
    with serving(app) as base:
        yield app, base
    app.state.engine.dispose()


def test_postgresql_restart_under_load_answers_503_and_loses_nothing(fleet_on, private_pg, caplog):
    """16 clients posting while PostgreSQL is stopped (immediate mode, like a crash) for ~2 s and started
    again: ingest answers 503 quickly while it is down, recovers by itself (no restart of the fleet), and
    every acknowledged uplink is stored once."""
    app, base = fleet_on
    tech = make_token(app, "technician")
    with httpx.Client(base_url=base, timeout=10) as http:
        devs = [add_device(http, tech, name=f"bin {i}")["dev_eui"] for i in range(16)]

    async def load_and_restart():  # noqa: ANN202
        task = asyncio.create_task(post_all(base, devs, 30, time.monotonic() + 60, pause=0.02))
        await asyncio.sleep(0.7)
        await asyncio.to_thread(private_pg["stop"])
        await asyncio.sleep(2.0)
        await asyncio.to_thread(private_pg["start"])
        return await task

    result = asyncio.run(load_and_restart())
    stored = stored_dedup_ids(private_pg["url"])
    slowest = max(result.unavailable_latency_s, default=0.0)
    print(
        f"\nPostgreSQL restart: {len(result.acked)} acknowledged, {len(result.acked & set(stored))} of them "
        f"stored, {sum(stored.values())} uplink rows, codes {dict(result.codes)}, "
        f"{result.transport_errors} transport errors, slowest 503 {slowest * 1000:.0f} ms, "
        f"slowest 200 {max(result.ok_latency_s) * 1000:.0f} ms"
    )
    assert result.codes[503] > 0, "no request saw the outage: the test proved nothing"
    assert set(result.codes) <= {200, 503}, result.codes
    # quickly: a refused connection, not a hang until the client's 10 s timeout. Judged against the same
    # run's slowest acknowledgement too, since a shared 2-core machine's speed varies (3 s was exceeded
    # once under load while every answer was slow)
    slowest_ok = max(result.ok_latency_s)
    assert slowest < min(8.0, max(3.0, 2 * slowest_ok)), (slowest, slowest_ok)
    assert len(result.acked) == 16 * 30
    assert result.acked <= set(stored) and all(stored[d] == 1 for d in result.acked)
    assert sum(stored.values()) == len(result.acked)
    assert any("database unavailable, answering 503" in r.getMessage() for r in caplog.records)
