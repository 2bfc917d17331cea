"""Properties: every frame round-trips; no byte string makes a decoder raise anything but CodecError."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import codec
from protocols import settings as wire_settings

VECTORS = Path(__file__).resolve().parents[2] / "protocols" / "vectors"
FUZZ_PER_DECODER = 10_000

distance = st.one_of(st.none(), st.integers(0, 1000))
temperature = st.one_of(st.none(), st.integers(0, 1250).map(lambda r: (r - 400) / 10))
humidity = st.one_of(st.none(), st.integers(0, 200).map(lambda r: r / 2))
pressure = st.one_of(st.none(), st.integers(0, 8000).map(lambda r: (r + 3000) / 10))
battery = st.one_of(st.none(), st.integers(0, 126).map(lambda r: 2000 + 20 * r))
flags = st.lists(st.sampled_from(codec.FLAG_NAMES), unique=True).map(
    lambda names: [n for n in codec.FLAG_NAMES if n in names]
)


@st.composite
def readings(draw, with_pressure: bool):
    d = draw(distance)
    no_echo = d is None and draw(st.booleans())
    r = {
        "distance_cm": d,
        "no_echo": no_echo,
        "temperature_c": draw(temperature),
        "humidity_pct": draw(humidity),
    }
    if with_pressure:
        r["pressure_hpa"] = draw(pressure)
    return r


@st.composite
def measurements(draw):
    r = draw(readings(draw(st.booleans())))
    r["battery_mv"] = draw(battery)
    r["flags"] = draw(flags)
    return r


@st.composite
def batches(draw):
    n = draw(st.integers(1, 32))
    # small steps mostly, so widths stay under 16 bits even with pressure; markers appear too
    rs = draw(st.lists(readings(False), min_size=n, max_size=n))
    return {
        "interval_min": draw(st.integers(1, 255)),
        "battery_mv": draw(battery),
        "flags": draw(flags),
        "readings": rs,
    }


@settings(max_examples=300, deadline=None)
@given(measurements())
def test_measurement_round_trip(m):
    data = codec.encode_measurement(m)
    assert len(data) == (8 if "pressure_hpa" in m else 6)
    out = codec.decode_uplink(codec.PORT_MEASUREMENT, data)
    assert out.pop("type") == "measurement"
    assert out == m


@settings(max_examples=200, deadline=None)
@given(batches())
def test_batch_round_trip(b):
    data = codec.encode_batch(b)
    out = codec.decode_uplink(codec.PORT_BATCH, data)
    n = len(b["readings"])
    assert [r.pop("age_min") for r in out["readings"]] == [(n - 1 - i) * b["interval_min"] for i in range(n)]
    assert out.pop("type") == "batch"
    assert out == b


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "fw_version": st.tuples(st.integers(0, 15), st.integers(0, 63), st.integers(0, 63)).map(
                lambda v: ".".join(map(str, v))
            ),
            "config_version": st.integers(0, 65535),
            "reset_cause": st.sampled_from(codec.RESET_CAUSES),
            "wake_count": st.integers(0, 2**24 - 1),
            "sensor_errors": st.integers(0, 255),
            "radio_errors": st.integers(0, 255),
            "watchdog_resets": st.integers(0, 255),
            "battery_mv": battery,
            "rssi": st.one_of(st.none(), st.integers(-127, 127)),
            "snr": st.one_of(st.none(), st.integers(-127, 127)),
            "join_count": st.integers(0, 255),
        }
    )
)
def test_status_round_trip(s):
    out = codec.decode_uplink(codec.PORT_STATUS, codec.encode_status(s))
    assert out.pop("type") == "status"
    assert out == s


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 65535),
    st.lists(st.tuples(st.integers(0, 31), st.sampled_from(wire_settings.STATUSES)), max_size=48),
)
def test_config_report_round_trip(version, entries):
    out = codec.decode_uplink(codec.PORT_CONFIG_REPORT, codec.encode_config_report(version, entries))
    assert out["config_version"] == version
    assert [(e["id"], e["status"]) for e in out["entries"]] == entries
    assert all(
        e["name"] == (wire_settings.BY_ID[e["id"]][1] if e["id"] in wire_settings.BY_ID else None)
        for e in out["entries"]
    )


settings_values = st.fixed_dictionaries(
    {},
    optional={name: st.integers(e[3], e[4]) for name, e in wire_settings.BY_NAME.items()},
)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 65535), settings_values)
def test_config_round_trip_both_parsers(version, values):
    data = codec.encode_config({"config_version": version, "settings": values})
    assert len(data) <= 51
    assert codec.decode_downlink(codec.PORT_CONFIG, data) == {
        "type": "config",
        "config_version": version,
        "settings": values,
    }
    parsed_version, entries = codec.parse_config(data)
    assert parsed_version == version
    assert {wire_settings.BY_ID[i][1]: v for i, v, status in entries if status == "ok"} == values
    assert len(entries) == len(values)


def test_command_round_trip():
    for name in codec.COMMANDS.values():
        assert codec.decode_downlink(codec.PORT_COMMAND, codec.encode_command(name)) == {
            "type": "command",
            "command": name,
        }


def _fuzz_inputs(rng: random.Random, seeds: list[bytes], count: int):
    """Half purely random, half mutated valid frames (bit flips, cuts, extensions, byte swaps)."""
    for i in range(count):
        if i % 2 or not seeds:
            data = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
            if data and i % 4 == 1:
                data[0] = 0x20 | (data[0] & 0x1F)  # a valid version byte, so the decoder goes deeper
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                op = rng.randrange(4)
                if op == 0 and data:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
                elif op == 1 and data:
                    del data[rng.randrange(len(data)) :]
                elif op == 2:
                    data.append(rng.randrange(256))
                elif data:
                    data[rng.randrange(len(data))] = rng.randrange(256)
        yield bytes(data)


def test_decoders_raise_only_codec_error_on_any_bytes():
    seeds: dict[int, list[bytes]] = {}
    for path in VECTORS.glob("*.json"):
        doc = json.loads(path.read_text())
        seeds[doc["fport"]] = [bytes.fromhex(v["hex"]) for v in doc["valid"]]
    rng = random.Random(7)
    for port, decode in [
        (1, codec.decode_uplink),
        (2, codec.decode_uplink),
        (3, codec.decode_uplink),
        (4, codec.decode_uplink),
        (10, codec.decode_downlink),
        (11, codec.decode_downlink),
    ]:
        ok = errors = 0
        for data in _fuzz_inputs(rng, seeds[port], FUZZ_PER_DECODER):
            try:
                decode(port, data)
                ok += 1
            except codec.CodecError as e:
                assert e.code in {"length", "version", "reserved", "range", "key"}, (port, data.hex(), str(e))
                errors += 1
        assert ok + errors == FUZZ_PER_DECODER
        assert ok > 50 and errors > 1000, (port, ok, errors)  # both paths are exercised
    for data in _fuzz_inputs(rng, seeds[10], FUZZ_PER_DECODER):
        try:
            codec.parse_config(data)
        except codec.CodecError:
            pass


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.text(),
        st.lists(st.integers()),
        st.dictionaries(st.text(), st.integers()),
        st.floats(),
    ),
    st.one_of(st.integers(), st.none(), st.text(), st.floats()),
)
def test_any_python_value_gives_codec_error(data, port):
    """A frame is bytes: anything else is refused with a CodecError (no TypeError, no silent success)."""
    for decode in (codec.decode_uplink, codec.decode_downlink):
        with pytest.raises(codec.CodecError):
            decode(port, data)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=6),
        max_leaves=12,
    )
)
def test_encoders_refuse_garbage_with_codec_error(obj):
    """Each encoder either refuses with a CodecError or (for the rare value that happens to be valid) makes
    a frame its own decoder reads back: never another exception, never a frame nobody can read."""
    for encode, decode, port in (
        (codec.encode_measurement, codec.decode_uplink, codec.PORT_MEASUREMENT),
        (codec.encode_batch, codec.decode_uplink, codec.PORT_BATCH),
        (codec.encode_status, codec.decode_uplink, codec.PORT_STATUS),
        (codec.encode_config, codec.decode_downlink, codec.PORT_CONFIG),
        (codec.encode_command, codec.decode_downlink, codec.PORT_COMMAND),
        (lambda o: codec.encode_config_report(1, o), codec.decode_uplink, codec.PORT_CONFIG_REPORT),
    ):
        try:
            frame = encode(obj)
        except codec.CodecError:
            continue
        assert isinstance(frame, bytes), (encode, obj, frame)
        decode(port, frame)  # raises if the encoder made a frame its decoder refuses
