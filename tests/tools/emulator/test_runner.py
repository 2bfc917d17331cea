"""Runner pieces that need no MicroPython process: offline initial config, the .mpy cache."""

from protocols import codec
from tools.emulator import runner
from tools.emulator.runner import Emulation
from tools.emulator.scenario import loads


def test_offline_run_queues_the_scenario_settings_as_a_config_downlink():
    sc = loads('[nodes.b]\nconfig = { meas_interval_min = 10, batch_size = 4 }\nbin = { height_cm = 95 }\n')
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
