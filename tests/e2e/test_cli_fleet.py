"""`kumpel emu run --fleet URL --fleet-token T` against a running fleet manager, through the CLI."""

import json
import re

from typer.testing import CliRunner

from tools.emulator.cli import app
from tools.emulator.local_fleet import free_port


def test_emu_run_provisions_and_feeds_a_running_fleet(fleet_factory, tmp_path):
    grpc_port = free_port()
    fleet = fleet_factory()
    fleet.grpc_target = f"127.0.0.1:{grpc_port}"
    fleet.start()
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--scenario",
            "fire",
            "--nodes",
            "1",
            "--days",
            "0.2",
            "--fleet",
            fleet.url,
            "--fleet-token",
            fleet.admin_token,
            "--ingest-token",
            fleet.ingest_token,
            "--api-token",
            fleet.grpc_api_token,
            "--grpc-port",
            str(grpc_port),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())
    assert summary["fleet"]["failed"] == 0 and summary["fleet"]["posted"] >= 3
    node = summary["per_node"][0]
    assert node["joins"] == 1 and node["uplinks_heard"] >= 2 and node["downlinks"] == 1  # bin height 100
    with fleet.api() as api:
        uplinks = api.get(f"/devices/{node['dev_eui'].upper()}/uplinks").json()
        config = api.get(f"/devices/{node['dev_eui'].upper()}/config").json()
    assert len(uplinks) == node["uplinks_heard"]
    assert (
        config["applied"]["bin_height_cm"] == 100 and config["reported_version"] == config["desired_version"]
    )
    assert "burning-001" in result.output and "events posted" in result.output


def test_the_demo_fleet_has_a_crew_account_that_signs_in_with_its_password(fleet_factory):
    import httpx

    fleet = fleet_factory()
    fleet.grpc_target = f"127.0.0.1:{free_port()}"
    fleet.start()
    with httpx.Client(base_url=fleet.url, timeout=10) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/signin").text).group(
            1
        )  # login CSRF token
        r = http.post(
            "/signin", data={"username": "crew", "password": fleet.crew_password, "next": "/", "csrf": csrf}
        )
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "Demo crew" in http.get("/", headers={"Accept-Language": "en"}).text
