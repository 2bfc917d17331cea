"""`kumpel codec` through the real console script's Typer app."""

import json

import pytest
from typer.testing import CliRunner

from tools.codec_cli import app

runner = CliRunner()
READING = {"distance_cm": 123, "no_echo": False, "temperature_c": 21.5, "humidity_pct": 55.5}


def run(*args: str):
    return runner.invoke(app, list(args))


def test_encode_measurement_prints_hex():
    obj = dict(READING, battery_mv=3700, flags=["bin_full"])
    result = run("encode", "measurement", "--json", json.dumps(obj))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "21ed33b7d540"


@pytest.mark.parametrize(
    "frame,obj,hex_text",
    [
        ("command", "reboot", "2001"),
        ("command", {"command": "rejoin"}, "2004"),
        ("config", {"config_version": 4, "settings": {"batch_size": 6}}, "2000042206"),
        ("config_report", {"config_version": 4, "entries": [[2, "ok"]]}, "20000402"),
    ],
)
def test_encode_other_frames(frame, obj, hex_text):
    result = run("encode", frame, "--json", json.dumps(obj))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == hex_text


def test_decode_prints_json_and_accepts_console_hex():
    result = run("decode", "--port", "1", "21 ED 33 B7 D5 40", "--bin-height-cm", "200")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["distance_cm"] == 123 and data["flags"] == ["bin_full"] and data["fill_pct"] == 39


def test_decode_downlink_port():
    result = run("decode", "--port", "11", "2002")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"type": "command", "command": "status_now"}


@pytest.mark.parametrize(
    "args,message",
    [
        (("decode", "--port", "1", "zz"), "not a hex byte string"),
        (("decode", "--port", "1", "21ed33"), "length: fPort 1 frame is 3 bytes"),
        (("decode", "--port", "7", "2001"), "port: fPort 7 is not an uplink port"),
        (("encode", "sensor", "--json", "{}"), "unknown frame 'sensor'"),
        (("encode", "measurement", "--json", "{"), "--json is not valid JSON"),
        (
            (
                "encode",
                "measurement",
                "--json",
                json.dumps(dict(READING, distance_cm=2000, battery_mv=1, flags=0)),
            ),
            "range:",
        ),
        (
            ("encode", "config", "--json", '{"config_version": 1, "settings": {"colour": 1}}'),
            "key: unknown setting",
        ),
        (("airtime", "--bytes", "300"), "exceeds the EU868 maximum"),
        (("airtime", "--bytes", "5", "--sf", "6"), "--sf must be 7..12"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_airtime_one_sf():
    result = run("airtime", "--bytes", "5", "--sf", "12")
    assert result.exit_code == 0
    assert "1318.912 ms" in result.stdout and "655 uplinks/day under 1 % duty cycle" in result.stdout
    assert "22 under the 30 s fair-use budget" in result.stdout


def test_airtime_all_sf_flags_oversized_payloads():
    result = run("airtime", "--bytes", "60")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()[1:]
    assert len(lines) == 6
    assert sum("TOO BIG" in line for line in lines) == 3  # DR0-DR2 carry 51 bytes at most
