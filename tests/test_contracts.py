"""The facts several parts share stay one fact: hardware names, and the settings table in both codecs."""

import ast
from pathlib import Path

from protocols import hardware

ROOT = Path(__file__).resolve().parent.parent


def _literal(path: Path, name: str):  # noqa: ANN202
    """A module-level literal of a firmware file, read without importing MicroPython code."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {path}")


def test_firmware_boards_are_the_contract_boards():
    profiles = _literal(ROOT / "firmware/node/boards.py", "PROFILES")
    assert sorted(profiles) == sorted(hardware.BOARDS)
    native = sorted(name for name, p in profiles.items() if p.get("link") == "native")
    assert native == sorted(hardware.NATIVE_BOARDS)


def _imports_from(path: Path, module: str) -> set[str]:
    """Names a source file imports from `module` (anywhere in the file)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == module:
            out |= {a.name for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.module == module.rpartition(".")[0]:
            out |= {module.rpartition(".")[2]} & {a.name for a in node.names}
    return out


def _string_literals(path: Path) -> set[str]:
    return {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}


def test_firmware_sensor_kinds_are_the_contract_kinds():
    """The firmware dispatches every contract kind to a driver and names them from protocols/hardware.py;
    the emulator's scenario checks with the same tuples."""
    sensors = ROOT / "firmware/node/sensors/__init__.py"
    assert "hardware" in _imports_from(sensors, "protocols")
    assert set(hardware.ULTRASONIC + hardware.CLIMATE) <= _string_literals(sensors)
    from tools.emulator import scenario

    assert scenario.ULTRASONIC_KINDS is hardware.ULTRASONIC and scenario.CLIMATE_KINDS is hardware.CLIMATE


def test_reset_cause_names_have_one_home():
    """Firmware and emulator name reset causes from protocols/hardware.py, not from copies of their own."""
    assert hardware.RESET_CAUSES[1:6] == ("power_on", "hard", "watchdog", "deepsleep", "soft")
    for path in ("firmware/node/wake.py", "tools/emulator/sim/simworld.py"):
        names = _imports_from(ROOT / path, "protocols") | _imports_from(ROOT / path, "protocols.hardware")
        assert names & {"hardware", "RESET_CAUSES"}, path
        assert "power_on" not in _string_literals(ROOT / path), f"{path} keeps its own reset-cause names"
    from protocols import codec

    assert codec.RESET_CAUSES is hardware.RESET_CAUSES


def test_provision_json_has_one_checker():
    """The firmware and the node tool read provision.json with protocols/provisioning.py, nothing else."""
    firmware = ROOT / "firmware/node/provision.py"
    assert "provisioning" in _imports_from(firmware, "protocols")
    literals = _string_literals(firmware)
    assert not literals & set(hardware.ULTRASONIC + hardware.CLIMATE), (
        "the firmware keeps a copy of the names"
    )
    from protocols import provisioning
    from tools.nodetool import provision

    doc = {"v": 1, "dev_eui": "00" * 8, "join_eui": "00" * 8, "app_key": "00" * 16, "board": "x"}
    assert provision.problems(doc) == provisioning.problems(doc) != []


def test_fleet_and_node_tool_validate_with_the_contract_names():
    from fleet.services import provisioning
    from tools.nodetool import provision

    assert provisioning.BOARDS is hardware.BOARDS and provision.BOARDS is hardware.BOARDS
    assert provisioning.ULTRASONIC is hardware.ULTRASONIC and provision.CLIMATE is hardware.CLIMATE
