"""Runner pieces that need no MicroPython process: offline initial config, the .mpy cache."""

from pathlib import Path

from protocols import codec
from tools.emulator import runner
from tools.emulator.runner import Emulation
from tools.emulator.scenario import loads


def test_offline_run_queues_the_scenario_settings_as_a_config_downlink():
    sc = loads("[nodes.b]\nconfig = { meas_interval_min = 10, batch_size = 4 }\nbin = { height_cm = 95 }\n")
    emu = Emulation(sc)
    try:
        (item,) = emu.ns.queue(sc.nodes[0].dev_eui)
        frame = codec.decode_downlink(item.f_port, item.data)
        assert frame["config_version"] == 1
        assert frame["settings"] == {"meas_interval_min": 10, "batch_size": 4, "bin_height_cm": 95}
    finally:
        emu.stop()
        emu.cleanup()


def test_mpy_cache_is_built_once_per_source_version(tmp_path):
    first = runner.build_mpy_cache(tmp_path)
    assert (first / ".complete").exists() and (first / "protocols" / "codec.mpy").exists()
    mtime = (first / ".complete").stat().st_mtime_ns
    assert runner.build_mpy_cache(tmp_path) == first and (first / ".complete").stat().st_mtime_ns == mtime


def test_a_relative_workdir_runs_like_an_absolute_one(tmp_path, monkeypatch):
    """`make demo` passes var/demo: node processes change into their flash folder, so the runner must not
    hand them a path relative to where it was started."""
    monkeypatch.chdir(tmp_path)
    emu = Emulation(loads("[nodes.b]\n"), days=0.1, workdir=Path("rel"))
    try:
        emu.start_services()
        emu.start_nodes()
        assert emu.wait(timeout_s=60)
        (node,) = emu.summary()["per_node"]
        assert node["joins"] == 1 and node["uplinks"] >= 1
    finally:
        emu.stop()
