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


def test_firmware_sensor_kinds_are_the_contract_kinds():
    sensors = ROOT / "firmware/node/sensors/__init__.py"
    assert tuple(_literal(sensors, "ULTRASONIC_KINDS")) == hardware.ULTRASONIC
    assert tuple(_literal(sensors, "CLIMATE_KINDS")) == hardware.CLIMATE


def test_fleet_and_node_tool_validate_with_the_contract_names():
    from fleet.services import provisioning
    from tools.nodetool import provision

    assert provisioning.BOARDS is hardware.BOARDS and provision.BOARDS is hardware.BOARDS
    assert provisioning.ULTRASONIC is hardware.ULTRASONIC and provision.CLIMATE is hardware.CLIMATE
