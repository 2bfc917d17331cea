"""LoRa time on air against the reference figures, and the EU868 limits."""

import pytest

from protocols import airtime


@pytest.mark.parametrize(
    "nbytes,sf7,sf12",
    [(5, 51.456, 1318.912), (11, 61.696, 1482.752), (15, 66.816, 1646.592), (51, 118.016, 2793.472)],
)
def test_reference_figures(nbytes, sf7, sf12):
    assert airtime.time_on_air_ms(nbytes, 7) == pytest.approx(sf7, abs=1e-9)
    assert airtime.time_on_air_ms(nbytes, 12) == pytest.approx(sf12, abs=1e-9)


def test_spec_batch_arithmetic():
    """SPEC.md fPort 2: 30-byte batch at SF12 = 2138.1 ms; 6 a day + status + report = about 16.1 s."""
    batch = airtime.time_on_air_ms(30, 12)
    assert batch == pytest.approx(2138.112)
    day = 6 * batch + 2 * airtime.time_on_air_ms(15, 12)
    assert day / 1000 == pytest.approx(16.1, abs=0.05)
    assert 96 * airtime.time_on_air_ms(6, 12) / 1000 > 4 * 30  # one frame per reading is 4x over budget


def test_time_grows_with_size_and_sf():
    for sf in range(7, 13):
        times = [airtime.time_on_air_ms(n, sf) for n in range(0, 243)]
        assert times == sorted(times)
    assert [airtime.time_on_air_ms(10, sf) for sf in range(7, 13)] == sorted(
        airtime.time_on_air_ms(10, sf) for sf in range(7, 13)
    )
    assert airtime.time_on_air_ms(10, 7, 250) == pytest.approx(airtime.time_on_air_ms(10, 7) / 2)


def test_eu868_limits():
    assert [airtime.max_payload(dr) for dr in range(6)] == [51, 51, 51, 115, 242, 242]
    assert [airtime.sf_for_dr(dr) for dr in range(6)] == [12, 11, 10, 9, 8, 7]
    toa = airtime.time_on_air_ms(5, 12)
    assert airtime.uplinks_per_day_duty_cycle(toa) == 655  # 864 s of 1 % / 1.319 s
    assert airtime.uplinks_per_day_fair_use(toa) == 22  # 30 s / 1.319 s


@pytest.mark.parametrize("args", [(-1, 7), (243, 7), (5, 6), (5, 13), (5, 7, 200), ("5", 7), (2.5, 7)])
def test_bad_arguments_are_refused(args):
    with pytest.raises(airtime.AirtimeError):
        airtime.time_on_air_ms(*args)


@pytest.mark.parametrize("dr", [-1, 6, "0"])
def test_bad_data_rate(dr):
    with pytest.raises(airtime.AirtimeError):
        airtime.max_payload(dr)


def test_spec_airtime_arithmetic_matches_the_codec():
    """SPEC's batch arithmetic: the delta ranges it names fit the widths it names, at the sizes it names."""
    from pathlib import Path

    from protocols import codec

    spec = (Path(__file__).resolve().parents[2] / "protocols" / "SPEC.md").read_text()

    def frame(step_d, step_t, step_h):
        rs, d, t, h = [], 100, 10.0, 50.0
        for i in range(16):
            rs.append({"distance_cm": d, "no_echo": False, "temperature_c": round(t, 1), "humidity_pct": h})
            k = 0 if i % 2 == 0 else 1
            d, t, h = d + step_d[k], t + step_t[k], h + step_h[k]
        return codec.encode_batch({"interval_min": 15, "battery_mv": 3700, "flags": [], "readings": rs})

    # a w-bit zigzag holds -2**(w-1) .. 2**(w-1) - 1 raw steps; humidity is counted in 0.5 %RH
    assert "humidity −2.0…+1.5 %RH" in spec and "**30 bytes for 16 readings**" in spec
    assert len(frame((7, -8), (0.7, -0.8), (1.5, -2.0))) == 30
    assert len(frame((7, -8), (0.7, -0.8), (3.5, -3.5))) == 32 and "= 32 bytes" in spec
    assert airtime.time_on_air_ms(30, 12) == airtime.time_on_air_ms(32, 12) == pytest.approx(2138.1, abs=0.05)
