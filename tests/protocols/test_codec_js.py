"""The JavaScript codec (TS013) under Node.js and a real QuickJS, byte-identical with the Python codec."""

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from protocols import codec, settings

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
JS = ROOT / "protocols" / "kumpel-codec.js"
VECTORS = ROOT / "protocols" / "vectors"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if not found:
        pytest.fail(
            "Node.js not installed: the JS codec cannot be tested (install nodejs, then `make setup`)"
        )
    if (
        not (ROOT / "node_modules" / "quickjs-emscripten").is_dir()
        or not (ROOT / "node_modules" / "acorn").is_dir()
    ):
        pytest.fail("npm packages missing: run `make setup` (npm install)")
    return found


def run_node(node: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([node, *args], capture_output=True, text=True, cwd=ROOT, timeout=60, input=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_vectors_under_node(node):
    result = json.loads(run_node(node, str(HERE / "js_check.js"), "vectors", str(VECTORS)))
    assert result["failures"] == []
    assert result["checked"] >= 120


def test_vectors_under_quickjs_as_chirpstack_runs_it(node):
    result = json.loads(run_node(node, str(HERE / "quickjs_run.js"), str(VECTORS)))
    assert result["failures"] == []
    assert result["checked"] >= 120
    data = result["chirpstack"]["data"]
    assert data["distance_cm"] == 123 and data["fill_pct"] == 39  # variables.bin_height_cm = "200"


def test_codec_is_es51_and_under_40_kb(node):
    assert JS.stat().st_size < 40 * 1024
    script = (
        "var acorn = require('acorn');"
        "acorn.parse(require('fs').readFileSync(process.argv[1], 'utf8'), {ecmaVersion: 5});"
        "process.stdout.write('ok');"
    )
    assert run_node(node, "-e", script, str(JS)) == "ok"


def test_es51_check_catches_es6(node, tmp_path):
    """The syntax check is real: an arrow function fails it."""
    bad = tmp_path / "bad.js"
    bad.write_text("var f = (x) => x;")
    script = "require('acorn').parse(require('fs').readFileSync(process.argv[1], 'utf8'), {ecmaVersion: 5})"
    done = subprocess.run([node, "-e", script, str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0


def test_settings_table_matches_python(node):
    script = f"process.stdout.write(JSON.stringify(require({str(JS)!r}).SETTINGS))"
    assert json.loads(run_node(node, "-e", script)) == [list(s) for s in settings.SETTINGS]


def _python_decode(port: int, data: bytes):
    try:
        if port >= 10:
            return [None, codec.decode_downlink(port, data)]
        return [None, codec.decode_uplink(port, data)]
    except codec.CodecError as e:
        return [e.code, None]


def _differential_cases(rng: random.Random, per_port: int) -> list:
    """Random frames and valid frames with a few bits flipped, bytes cut or added, for every port."""
    seeds = {}
    for doc_path in VECTORS.glob("*.json"):
        doc = json.loads(doc_path.read_text())
        seeds.setdefault(doc["fport"], []).extend(bytes.fromhex(v["hex"]) for v in doc["valid"])
    out = []
    for port in (1, 2, 3, 4, 10, 11):
        for _ in range(per_port):
            if rng.random() < 0.3:
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 24)))
                if data and rng.random() < 0.7:
                    data = bytes([0x20 | (data[0] & 0x1F)]) + data[1:]  # mostly version 1: go deeper
            else:
                buf = bytearray(rng.choice(seeds[port]))
                for _ in range(rng.randrange(1, 4)):
                    op = rng.randrange(3)
                    if op == 0 and buf:
                        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
                    elif op == 1 and buf:
                        del buf[rng.randrange(len(buf)) :]
                    else:
                        buf.append(rng.randrange(256))
                data = bytes(buf)
            out.append([port, data.hex()])
    return out


def test_javascript_and_python_agree_on_mutated_frames(node, tmp_path):
    """Differential check: same error code or the same decoded object for 6 x 1500 frames."""
    cases = _differential_cases(random.Random(2024), 1500)
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    js = json.loads(run_node(node, str(HERE / "js_check.js"), "decode", str(path)))
    mismatches = []
    accepted = 0
    for (port, hex_text), got in zip(cases, js, strict=True):
        want = _python_decode(port, bytes.fromhex(hex_text))
        accepted += want[0] is None
        if got != want:
            mismatches.append((port, hex_text, want, got))
    assert mismatches[:5] == []
    assert accepted > 500  # the mutations reach the decoders' depths, not just the version check


def test_bin_height_variable_is_a_whole_number_in_range_or_no_fill(node):
    """variables.bin_height_cm: "12O" is not 12 (a fill of 0 %), "120cm" not 120; out of range not used."""
    script = (
        f"var c = require({str(JS)!r}); var out = {{}};"
        "['120', 120, '12O', '120cm', 5000, 12.5, '-50', '', true].forEach(function (h) {"
        "  out[JSON.stringify(h)] = c.decodeUplink({fPort: 1, bytes: [0x21, 0xed, 0x33, 0xb7, 0xd5, 0x40],"
        "    variables: {bin_height_cm: h}}); });"
        "process.stdout.write(JSON.stringify(out));"
    )
    out = json.loads(run_node(node, "-e", script))
    assert out['"120"']["data"]["fill_pct"] == out["120"]["data"]["fill_pct"] == codec.fill_percent(123, 120)
    assert "warnings" not in out["120"]
    for bad in ('"12O"', '"120cm"', "5000", "12.5", '"-50"', '""', "true"):
        assert "fill_pct" not in out[bad]["data"], bad
        assert out[bad]["data"]["distance_cm"] == 123  # the reading itself is kept
        assert "bin_height_cm" in out[bad]["warnings"][0], bad


def test_reset_causes_match_their_home(node):
    """The JS codec's reset-cause names are protocols/hardware.py's (the status frame carries the index)."""
    from protocols import hardware

    script = f"process.stdout.write(JSON.stringify(require({str(JS)!r}).RESET_CAUSES))"
    assert tuple(json.loads(run_node(node, "-e", script))) == hardware.RESET_CAUSES
