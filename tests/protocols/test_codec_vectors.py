"""Golden vectors through the Python codec on CPython, plus an independent big-int reference for the bits."""

import json
from pathlib import Path

import pytest

from protocols import codec, settings

VECTORS = Path(__file__).resolve().parents[2] / "protocols" / "vectors"
FRAMES = ("measurement", "batch", "status", "config_report", "config", "command")
ERROR_CODES = {"port", "length", "version", "reserved", "range", "format", "key"}


def load(frame: str) -> dict:
    return json.loads((VECTORS / f"{frame}.json").read_text())


def encode(frame: str, obj):
    if frame == "config_report":
        return codec.encode_config_report(obj["config_version"], obj["entries"])
    return getattr(codec, "encode_" + frame)(obj)


def decode(doc: dict, data: bytes) -> dict:
    if doc["direction"] == "up":
        return codec.decode_uplink(doc["fport"], data)
    return codec.decode_downlink(doc["fport"], data)


def cases(section: str) -> list:
    return [pytest.param(f, v, id=f"{f}:{v['name']}") for f in FRAMES for v in load(f)[section]]


@pytest.mark.parametrize("frame", FRAMES)
def test_every_frame_has_enough_vectors(frame):
    doc = load(frame)
    assert doc["frame"] == frame
    assert len(doc["valid"]) >= (4 if frame == "command" else 6)  # there are only 4 commands
    assert len(doc["malformed"]) >= 5
    assert doc["bad_input"]
    assert {v["error"] for v in doc["malformed"] + doc["bad_input"]} <= ERROR_CODES


@pytest.mark.parametrize("frame,vector", cases("valid"))
def test_valid_vector_encodes_and_decodes(frame, vector):
    doc = load(frame)
    data = encode(frame, vector["object"])
    assert data.hex() == vector["hex"]
    assert decode(doc, data) == vector["decoded"]


@pytest.mark.parametrize("frame,vector", cases("malformed"))
def test_malformed_vector_is_rejected_with_its_code(frame, vector):
    with pytest.raises(codec.CodecError) as err:
        decode(load(frame), bytes.fromhex(vector["hex"]))
    assert err.value.code == vector["error"]
    assert str(err.value).startswith(vector["error"] + ": ")
    assert len(str(err.value)) > len(vector["error"]) + 10  # says what and where, not just the code


@pytest.mark.parametrize("frame,vector", cases("bad_input"))
def test_bad_encoder_input_is_refused_with_its_code(frame, vector):
    with pytest.raises(codec.CodecError) as err:
        encode(frame, vector["object"])
    assert err.value.code == vector["error"]


def test_spec_example_bytes():
    reading = {"distance_cm": 123, "no_echo": False, "temperature_c": 21.5, "humidity_pct": 55.5}
    data = codec.encode_measurement(dict(reading, battery_mv=3700, flags=["bin_full"]))
    assert data == bytes.fromhex("21ed33b7d540")
    assert codec.encode_measurement(dict(reading, battery_mv=3700, flags=codec.FLAG_BIN_FULL)) == data


def _pack(fields) -> str:
    value = nbits = 0
    for v, n in fields:
        assert 0 <= v < (1 << n)
        value, nbits = (value << n) | v, nbits + n
    pad = -nbits % 8
    return (value << pad).to_bytes((nbits + pad) // 8, "big").hex()


def _raw(reading) -> list[int]:
    """Raw values from a *decoded* reading, by the SPEC's table (independent of the codec's helpers)."""
    d = 1023 if reading["no_echo"] else 1022 if reading["distance_cm"] is None else reading["distance_cm"]
    t = reading["temperature_c"]
    h = reading["humidity_pct"]
    out = [d, 2047 if t is None else round(t * 10) + 400, 255 if h is None else round(h * 2)]
    if "pressure_hpa" in reading:
        p = reading["pressure_hpa"]
        out.append(65535 if p is None else round(p * 10) - 3000)
    return out


def _flags(names) -> int:
    return sum(1 << codec.FLAG_NAMES.index(n) for n in names)


def _battery(mv) -> int:
    return 127 if mv is None else (mv - 2000) // 20


@pytest.mark.parametrize("vector", load("measurement")["valid"], ids=lambda v: v["name"])
def test_measurement_bits_match_a_reference_packer(vector):
    dec = vector["decoded"]
    raw = _raw(dec)
    fields = [(1, 3), (len(raw) == 4, 1), (raw[0], 10), (raw[1], 11), (raw[2], 8)]
    fields += [(_battery(dec["battery_mv"]), 7), (_flags(dec["flags"]), 6), (0, 2)]
    if len(raw) == 4:
        fields.append((raw[3], 16))
    assert _pack([(int(v), n) for v, n in fields]) == vector["hex"]


@pytest.mark.parametrize("vector", load("batch")["valid"], ids=lambda v: v["name"])
def test_batch_bits_match_a_reference_packer(vector):
    dec = vector["decoded"]
    raws = [_raw(r) for r in dec["readings"]]
    nf = len(raws[0])
    bits_per_field = (10, 11, 8, 16)

    def zz(d):
        return 2 * d if d >= 0 else -2 * d - 1

    widths = [
        max([zz(raws[i][f] - raws[i - 1][f]) for i in range(1, len(raws))] + [0]).bit_length()
        for f in range(nf)
    ]
    fields = [(1, 3), (int(nf == 4), 1), (len(raws) - 1, 5), (dec["interval_min"], 8)]
    fields += [(_battery(dec["battery_mv"]), 7), (_flags(dec["flags"]), 6)] + [(w, 4) for w in widths]
    fields += [(raws[0][f], bits_per_field[f]) for f in range(nf)]
    for i in range(1, len(raws)):
        fields += [(zz(raws[i][f] - raws[i - 1][f]), widths[f]) for f in range(nf) if widths[f]]
    assert _pack(fields) == vector["hex"]
    n = len(raws)
    assert [r["age_min"] for r in dec["readings"]] == [(n - 1 - i) * dec["interval_min"] for i in range(n)]


def test_config_with_every_setting_fits_the_spec_size():
    values = {name: entry[5] for name, entry in settings.BY_NAME.items()}
    assert len(codec.encode_config({"config_version": 1, "settings": values})) == 27  # SPEC: 3 + 11 + 13


def test_parse_config_is_lenient_per_key():
    # meas_interval_min=10 ok, unknown id 20 (2 bytes) skipped, batch_size sent as 2 bytes, fire_temp 99
    frame = bytes.fromhex("200007" + "41000a" + "540102" + "420008" + "2563")
    version, entries = codec.parse_config(frame)
    assert version == 7
    assert entries == [
        (1, 10, "ok"),
        (20, None, "unknown_key"),
        (2, None, "bad_format"),
        (5, 99, "out_of_range"),
    ]
    with pytest.raises(codec.CodecError) as err:
        codec.decode_downlink(codec.PORT_CONFIG, frame)  # the strict decoder refuses the same frame
    assert err.value.code == "key"


@pytest.mark.parametrize(
    "frame,code",
    [("2000074100", "length"), ("20000722082208", "key"), ("000007", "version"), ("2100", "length")],
)
def test_parse_config_rejects_a_broken_frame_whole(frame, code):
    with pytest.raises(codec.CodecError) as err:
        codec.parse_config(bytes.fromhex(frame))
    assert err.value.code == code


@pytest.mark.parametrize(
    "distance,height,fill",
    [
        (0, 120, 100),
        (120, 120, 0),
        (60, 120, 50),
        (200, 120, 0),
        (119, 120, 1),
        (None, 120, None),
        (50, 0, None),
    ],
)
def test_fill_percent(distance, height, fill):
    assert codec.fill_percent(distance, height) == fill


@pytest.mark.parametrize("fport,data", [(1, "21ed33b7d540"), ("1", b"\x21"), (None, b""), (True, b"")])
def test_decoders_refuse_bad_ports_and_types_with_codec_error(fport, data):
    with pytest.raises(codec.CodecError):
        codec.decode_uplink(fport, data)  # "21ed..." as a str is not bytes: format
    with pytest.raises(codec.CodecError):
        codec.decode_downlink(fport, data)


def test_vector_files_match_their_generator():
    """The frozen files and the hand-written cases in make_vectors.py have not drifted apart."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_vectors", Path(__file__).with_name("make_vectors.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for frame in FRAMES:
        assert json.loads(gen.dump(gen.build(frame))) == load(frame), frame
