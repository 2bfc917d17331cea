"""`kumpel fleet ...` through the real CLI (Typer), on its own SQLite file."""

import pytest
from typer.testing import CliRunner

from fleet.cli import app  # mounted as `kumpel fleet` by tools/cli.py


@pytest.fixture
def run(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("KUMPEL_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("KUMPEL_ENV", "development")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):  # noqa: ANN202
        result = runner.invoke(app, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result

    assert "database ready at" in invoke("init").output  # the fleet's database is created once, by init
    return invoke


def test_cli_token_devices_config_health(run, tmp_path):
    out = run("token", "create", "--role", "technician", "--name", "depot").output
    assert "kmp_" in out
    assert "role must be one of" in run("token", "create", "--role", "root", ok=False).output
    out = run(
        "devices",
        "add",
        "--dev-eui",
        "70B3D57ED0000101",
        "--name",
        "Rathaus",
        "--street",
        "Markt 1",
        "--bin-height-cm",
        "110",
        "--group",
        "mitte",
    ).output
    assert "70B3D57ED0000101" in out and "AppKey" in out
    csv = tmp_path / "devices.csv"
    csv.write_text("dev_eui,name,groups\n70B3D57ED0000102,Post,mitte\nnot-an-eui,x,mitte\n")
    out = run("devices", "import", str(csv), ok=False).output  # exit 1: a row was rejected
    assert "created" in out and "rejected" in out and "16 hex" in out
    out = run("devices", "list", "--group", "mitte").output
    assert "70B3D57ED0000101" in out and "70B3D57ED0000102" in out and "not verified" in out
    assert "70B3D57ED0000101" not in run("devices", "list", "--provisioned").output
    assert "70B3D57ED0000101" in run("devices", "list", "--unverified").output
    out = run("config", "set", "group:mitte", "meas_interval_min=30").output
    assert "2 config downlink(s) queued" in out
    assert "out_of_range" in run("config", "set", "70B3D57ED0000101", "batch_size=99", ok=False).output
    refused = run("config", "set", "70B3D57ED0000101", "meas_interval_min=0", ok=False).output
    assert "meas_interval_min=0: out_of_range (allowed 1..1440)" in " ".join(refused.split()), refused
    out = run("health").output
    assert "worst nodes" in out and "70B3D57ED0000101" in out
    out = run("health", "70B3D57ED0000101").output
    assert "no uplink received yet" in out and "pending" in out and "not verified yet" in out
    out = run("rollout", "create", "mitte", "batch_size=4", "--batch-size", "1").output
    assert "running" in out


def test_cli_shows_who_passed_verify(run, tmp_path):
    """`devices list --provisioned` and `health DEV_EUI` tell the depot which nodes passed verify."""
    from sqlmodel import Session, create_engine, select

    from fleet.models import Device
    from fleet.services import verification

    for eui, name in (("70B3D57ED0000201", "Kirche"), ("70B3D57ED0000202", "Schule")):
        run("devices", "add", "--dev-eui", eui, "--name", name)
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(engine) as session:
        device = session.exec(select(Device).where(Device.dev_eui == "70B3D57ED0000201")).one()
        checks = [{"name": "modem", "ok": False, "detail": "no answer"}]
        verification.record(session, device, verification.VerificationIn(checks=checks), "depot")
        checks = [{"name": "modem", "ok": True, "detail": "DevEUI matches"}]
        verification.record(session, device, verification.VerificationIn(checks=checks), "depot")
        session.commit()
    engine.dispose()
    out = run("devices", "list", "--provisioned").output
    assert "70B3D57ED0000201" in out and "70B3D57ED0000202" not in out
    out = run("devices", "list", "--unverified").output
    assert "70B3D57ED0000202" in out and "70B3D57ED0000201" not in out
    out = run("health", "70B3D57ED0000201").output
    assert "provisioned since" in out and "passed" in out


def test_commands_that_read_refuse_a_database_that_does_not_exist(tmp_path, monkeypatch):
    """Before: `token create` / `devices list` outside the fleet's folder created ./var/kumpel.db (even
    /nonexistent/dir/x.db as root, folders included) and succeeded against the empty database."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("KUMPEL_DATABASE_URL", raising=False)
    runner = CliRunner()
    for args in (["token", "create", "--role", "admin"], ["devices", "list"], ["health"], ["sweep"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        assert f"no fleet database at {tmp_path / 'var' / 'kumpel.db'}" in r.output
        assert "kumpel fleet init" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "var").exists()
    monkeypatch.setenv("KUMPEL_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/x.db")
    r = runner.invoke(app, ["devices", "list"])
    assert r.exit_code == 2 and f"no fleet database at {tmp_path}/no/such/dir/x.db" in r.output
    assert not (tmp_path / "no").exists()
    (tmp_path / "empty.db").write_bytes(b"")  # a file that is not a fleet database (yet)
    monkeypatch.setenv("KUMPEL_DATABASE_URL", f"sqlite:///{tmp_path}/empty.db")
    r = runner.invoke(app, ["devices", "list"])
    assert r.exit_code == 2 and "has no fleet tables yet" in r.output

    monkeypatch.delenv("KUMPEL_DATABASE_URL")
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (tmp_path / "var" / "kumpel.db").exists()
    assert runner.invoke(app, ["token", "create", "--role", "admin"]).exit_code == 0
    assert runner.invoke(app, ["init"]).exit_code == 0  # again: safe, nothing lost
    assert "DevEUI" in runner.invoke(app, ["devices", "list"]).output


def test_an_unreachable_postgresql_server_is_one_line(monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("KUMPEL_DATABASE_URL", f"postgresql+psycopg://kumpel:secret@127.0.0.1:{port}/kumpel")
    runner = CliRunner()
    for args in (["devices", "list"], ["init"], ["token", "create", "--role", "admin"], ["serve"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, r.output
        assert r.output.strip().splitlines() == [
            f"error: the PostgreSQL server 127.0.0.1:{port} did not answer (Connection refused); "
            "check KUMPEL_DATABASE_URL"
        ]
        assert "secret" not in r.output


@pytest.mark.pg
def test_a_missing_postgresql_database_is_named(monkeypatch):
    import os

    from sqlalchemy.engine import make_url

    base = os.environ.get("KUMPEL_TEST_PG_URL")
    if not base:
        pytest.skip("KUMPEL_TEST_PG_URL not set")
    url = make_url(base).set(database="kumpel_i12c_no_such_db")
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.setenv("KUMPEL_DATABASE_URL", url.render_as_string(hide_password=False))
    r = CliRunner().invoke(app, ["devices", "list"])
    assert r.exit_code == 2 and "has no database 'kumpel_i12c_no_such_db'" in r.output
    assert len(r.output.strip().splitlines()) == 1
