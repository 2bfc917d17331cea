"""`kumpel demo` as a newcomer meets it: started with its output logged to a file (not a terminal).

The first overview after the dashboard's address is printed shows the district as it is now: no node
offline or never seen (the district scenario makes none offline; "late" after a lost uplink is an honest
state), no open offline alert, no reading dated in the future; the simulated clock then follows the
wall clock. The banner's commands, URLs and tokens are each on one line, and the printed command makes a
technician token for the demo's database.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tools.emulator.runner import SIM_DIR

pytestmark = pytest.mark.skipif(
    not (SIM_DIR / "simboot.py").exists(), reason="tools/emulator/sim/simboot.py not in this checkout"
)
KUMPEL = Path(sys.executable).parent / "kumpel"


def wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        out = log.read_text(errors="replace") if log.exists() else ""
        if text in out:
            return out
        if proc.poll() is not None:
            raise AssertionError(f"demo exited with {proc.returncode}:\n{out[-3000:]}")
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} after {timeout_s} s:\n{log.read_text(errors='replace')[-3000:]}")


def field(out: str, prefix: str) -> str:
    (line,) = [ln for ln in out.splitlines() if ln.startswith(prefix)]
    return line[len(prefix) :].split()[0]


def test_first_overview_after_the_url_shows_the_district_as_it_is_now(tmp_path):
    log = tmp_path / "demo.log"
    data = tmp_path / "demo"
    cmd = [str(KUMPEL), "demo", "--nodes", "4", "--history-days", "0.5", "--port", "0"]
    cmd += ["--data-dir", str(data)]
    env = dict(os.environ, COLUMNS="80")  # as in a CI log: rich must still not wrap the banner
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        out = wait_for_line(log, "Ctrl-C stops everything.", proc, timeout_s=240)
        seen_at = datetime.now(UTC)
        base = field(out, "  API         ")
        token = field(out, "  admin token ")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
            health = api.get("/health", params={"worst": 50}).json()
            assert health["total"] == 4
            assert health["by_status"]["offline"] == 0, health["worst"]
            assert health["connectivity"]["offline"] == 0 and health["connectivity"]["never"] == 0, health
            # open ones: the fleet judges each uplink at ingest against the wall clock, so a replayed
            # uplink that raises a flag may open an offline alert that the replay closes again
            alerts = api.get("/alerts").json()
            assert not [a for a in alerts if a["kind"] == "offline"], alerts
            for node in health["worst"]:  # the replayed history reaches now, and not beyond
                last = datetime.fromisoformat(node["last_seen_at"].replace("Z", "+00:00"))
                assert seen_at - timedelta(hours=3) < last <= seen_at + timedelta(seconds=5), node
        # the banner: one line per command, URL and token, even logged to a file at 80 columns
        (curl,) = [ln for ln in out.splitlines() if "curl -X PUT" in ln]
        assert token in curl and curl.rstrip().endswith("/config")
        db = data.resolve() / "fleet" / "kumpel.db"
        assert f"  database    {db}" in out
        (make_token,) = [ln.strip() for ln in out.splitlines() if "kumpel fleet token create" in ln]
        assert f"sqlite:///{db}" in make_token and "--role technician" in make_token
        env_part, command = make_token.split(" kumpel ", 1)
        tok_env = dict(os.environ, **dict(kv.split("=", 1) for kv in env_part.split()))
        made = subprocess.run(
            [str(KUMPEL), *command.split()], env=tok_env, capture_output=True, text=True, timeout=60
        )
        assert made.returncode == 0, made.stderr
        technician = made.stderr.strip().splitlines()[-1]
        r = httpx.get(f"{base}/health", headers={"Authorization": f"Bearer {technician}"}, timeout=30)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
