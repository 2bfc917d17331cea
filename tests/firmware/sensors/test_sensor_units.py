"""CPython unit tests of the pure parts of the sensor drivers and sims: check vectors from the
datasheets, the ping filter, and the BME280 integer compensation against Bosch's float formulas."""

import importlib.util
import sys
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]
SENSORS = ROOT / "firmware" / "node" / "sensors"
SIM = ROOT / "tools" / "emulator" / "sim"


def _micropython_shim():
    """The drivers import `const` from MicroPython's `micropython` module; on CPython it is the identity."""
    if "micropython" not in sys.modules:
        shim = types.ModuleType("micropython")
        shim.const = lambda x: x
        sys.modules["micropython"] = shim


def _load_sensors():
    """The driver package under a private name, so firmware/node/__init__.py (device code) never runs."""
    spec = importlib.util.spec_from_file_location(
        "kumpel_fw_sensors", SENSORS / "__init__.py", submodule_search_locations=[str(SENSORS)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_micropython_shim()
_load_sensors()
sys.path.insert(0, str(SIM))
import simdevices_bme280 as simbme  # noqa: E402
import simdevices_sensirion as simsens  # noqa: E402
from kumpel_fw_sensors import a02yyuw, bme280, sensirion, ultrasonic  # noqa: E402
from kumpel_fw_sensors.ultrasonic import FAULT, NO_ECHO, summarize  # noqa: E402


def test_crc8_check_vector():
    assert sensirion.crc8(b"\xbe\xef") == 0x92
    assert simsens.crc8(b"\xbe\xef") == 0x92


def test_sensirion_word_rejects_bad_crc():
    assert sensirion.word(bytes((0xBE, 0xEF, 0x92)), 0) == 0xBEEF
    assert sensirion.word(bytes((0xBE, 0xEF, 0x93)), 0) == -1


def test_a02yyuw_frame_example():
    assert a02yyuw.frame_mm(0xFF, 0x07, 0xA1, 0xA7) == 1953
    assert a02yyuw.frame_mm(0xFF, 0x07, 0xA1, 0xA6) == -1  # checksum off by one
    assert a02yyuw.frame_mm(0xFE, 0x07, 0xA1, 0xA6) == -1  # no header


def test_speed_of_sound_and_echo():
    assert ultrasonic.speed_of_sound(0) == pytest.approx(331.3)
    assert ultrasonic.speed_of_sound(None) == pytest.approx(343.42)  # 20 C when unknown
    assert ultrasonic.sound_dms(None) == 3434
    assert ultrasonic.echo_to_mm(5831, ultrasonic.sound_dms(20.0)) == 1001  # 5831 us * 343.4 m/s / 2
    assert ultrasonic.echo_to_mm(5831, ultrasonic.sound_dms(-20.0)) == 931


@pytest.mark.parametrize(
    ("pings", "expected"),
    [
        ([1000, 1002, 999, 1001, 1003], 1001),
        ([1000, 1010, 1020, 600, 650], 1010),  # two near echoes: MAD drops them, median moves back
        ([1000, 1002, NO_ECHO, 1001, FAULT], 1001),  # 3 of 5 in range is a quorum
        ([1000, NO_ECHO, NO_ECHO, 1001, FAULT], NO_ECHO),
        ([1000, FAULT, FAULT, 1001, NO_ECHO], FAULT),
        ([100, 120, 110, 115, 105], NO_ECHO),  # all in a 250 mm blind zone
        ([7000, 7100, 6900, 1000, 1000], NO_ECHO),  # mostly beyond max range
        ([400, 1900, 3300, 5100, 2600], FAULT),  # in range but scattered: not one surface
        ([2000, 2004], 2002),
    ],
)
def test_summarize(pings, expected):
    assert summarize(list(pings), 250, 6000) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-2, -1), st.integers(0, 8000)), min_size=1, max_size=9))
def test_summarize_is_total(pings):
    """Any ping list gives a code or a value among the in-range pings: never an exception."""
    in_range = [p for p in pings if 250 <= p <= 6000]
    result = summarize(list(pings), 250, 6000)
    assert result in (NO_ECHO, FAULT) or min(in_range) <= result <= max(in_range)


def test_bme280_datasheet_example():
    """Bosch's worked example (T1..P9 of the datasheet, adc_T 519888, adc_P 415148): 25.08 C, 100653.27 Pa."""
    cal = bme280.parse_calibration(*simbme.bme280_calibration_bytes(simbme.BME280_CAL))
    temperature, pressure, _ = bme280.compensate(cal, 519888, 415148, 0)
    assert temperature == 2508
    assert pressure / 256 == pytest.approx(100653.27, abs=0.05)  # the example's value is the float one
    t_fine, t_float = simbme.bme280_float_t(simbme.BME280_CAL, 519888)
    assert t_float == pytest.approx(25.08, abs=0.005)
    assert simbme.bme280_float_p(simbme.BME280_CAL, 415148, t_fine) == pytest.approx(100653.27, abs=0.01)


calibrations = st.fixed_dictionaries(
    {
        "T1": st.integers(26000, 29000), "T2": st.integers(25000, 27000), "T3": st.integers(-1000, 50),
        "P1": st.integers(35000, 38000), "P2": st.integers(-11000, -10000), "P3": st.integers(2000, 4000),
        "P4": st.integers(2000, 9000), "P5": st.integers(-200, 200), "P6": st.integers(-20, 20),
        "P7": st.integers(9000, 16000), "P8": st.integers(-15000, -5000), "P9": st.integers(3000, 6000),
        "H1": st.integers(0, 255), "H2": st.integers(300, 400), "H3": st.integers(0, 255),
        "H4": st.integers(-2048, 2047), "H5": st.integers(-2048, 2047), "H6": st.integers(-128, 127),
    }
)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(calibrations)
def test_bme280_calibration_packing_round_trips(cal):
    """The sim's register image and the driver's parser agree on every field, signs and nibbles included."""
    parsed = bme280.parse_calibration(*simbme.bme280_calibration_bytes(cal))
    order = ("T1", "T2", "T3", "P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9",
             "H1", "H2", "H3", "H4", "H5", "H6")  # fmt: skip
    assert parsed == tuple(cal[k] for k in order)


@pytest.mark.parametrize(
    ("temperature", "pressure_hpa", "humidity"), [(-30, 1050, 5), (0, 1000, 50), (45, 800, 95)]
)
def test_bme280_integer_matches_float_formulas(temperature, pressure_hpa, humidity):
    cal_dict = simbme.BME280_CAL
    cal = bme280.parse_calibration(*simbme.bme280_calibration_bytes(cal_dict))
    adc_t, adc_p, adc_h = simbme.Bme280Sim("bme280", object()).raw_for(temperature, pressure_hpa, humidity)
    t, p, h = bme280.compensate(cal, adc_t, adc_p, adc_h)
    t_fine, t_float = simbme.bme280_float_t(cal_dict, adc_t)
    assert t / 100 == pytest.approx(t_float, abs=0.01)
    assert p / 256 == pytest.approx(simbme.bme280_float_p(cal_dict, adc_p, t_fine), abs=1.0)
    assert h / 1024 == pytest.approx(simbme.bme280_float_h(cal_dict, adc_h, t_fine), abs=0.01)
    assert t / 100 == pytest.approx(temperature, abs=0.01)
    assert p / 25600 == pytest.approx(pressure_hpa, abs=0.03)
    assert h / 1024 == pytest.approx(humidity, abs=0.05)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(min_size=0, max_size=12).map(lambda b: b.replace(b"\xff", b"\x00")), max_size=5),
    st.lists(st.integers(30, 4500), min_size=1, max_size=5),
)
def test_a02yyuw_parser_resyncs_after_any_junk(junks, distances):
    """Junk without a 0xFF (a torn frame, line noise) before each frame never hides the frame."""
    ranger = a02yyuw.A02yyuw(uart=None)
    stream = bytearray()
    for i, mm in enumerate(distances):
        stream += junks[i] if i < len(junks) else b""
        stream += bytes((0xFF, mm >> 8, mm & 0xFF, (0xFF + (mm >> 8) + (mm & 0xFF)) & 0xFF))
    found = [mm for mm in (ranger._push(b) for b in stream) if mm >= 0]
    assert found == distances
