"""On-device self-test for the technician (CONTRACTS section 3): `import node.selftest; node.selftest.run()`.

Prints one line `SELFTEST {json}` with {"ok", "checks": [{"name", "ok", "detail", "code"?, "params"?}]}:
the detail in English for the terminal, and where the check knows it, a code and the numbers behind it
so the fleet's pages can say it in their reader's language. Each check is
independent and never raises, so one broken part does not hide the state of the others. It measures but
sends nothing: the radio check only asks the modem for its version, DevEUI (must be provision.json's
dev_eui: issue 7) and join state; on a native-LoRaWAN board (SX1262) it resets the chip and reads a known
register over SPI (the LoRa sync word, 0x3444 once configured) and reports the MAC's DevNonce counter.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import gc
import json

import machine

CHECKS = ("provision", "config", "board", "ultrasonic", "climate", "battery", "modem", "memory")


def _check(results, name, fn):
    code, params = None, None
    try:
        found = fn()
        ok, detail = found[0], found[1]
        if len(found) > 2:
            code, params = found[2], found[3]
    except Exception as e:  # a self-test reports, it never crashes
        ok, detail = False, "%s: %s" % (type(e).__name__, e)
    entry = {"name": name, "ok": bool(ok), "detail": str(detail)}
    if code is not None:
        entry["code"] = code
        entry["params"] = params
    results.append(entry)
    return ok


def _native_radio(hw):
    from node.link_native import make_radio
    from node.lorawan.nvstate import NvState
    from node.radio.sx1262 import REG_SYNC_WORD

    power = hw.get("sensor_power")  # RAK13300: the IO slot's 3V3_S also powers the radio
    if power is not None:
        power.value(1)
    radio = make_radio(hw["lora"])
    sync = bytes(radio.read_register(REG_SYNC_WORD, 2))
    radio.sleep()
    if sync != b"\x34\x44":
        return False, "SX1262 sync word %s, expected 3444 (SPI wiring?)" % sync.hex()
    nv = NvState("lorawan.nv")
    return nv.problem is None, "SX1262 sync word 3444, DevNonce %d, joined=%d%s" % (
        nv.dev_nonce,
        nv.joined,
        " (" + nv.problem + ")" if nv.problem else "",
    )


def run():
    from node import boards, provision
    from node.config import Config

    results = []  # type: list[dict]
    ctx = {}

    def prov():
        ctx["prov"] = provision.load()
        p = ctx["prov"]
        detail = "%s %s board=%s" % (p["name"] or "-", p["dev_eui"], p["board"])
        return (
            True,
            detail,
            "provisioned",
            {"name": p["name"] or "", "dev_eui": p["dev_eui"], "board": p["board"]},
        )

    def config():
        cfg = Config().load()
        ctx["cfg"] = cfg
        if cfg.problem is not None:
            return False, cfg.problem
        return True, "version %d" % cfg.version, "config_version", {"version": cfg.version}

    def board():
        ctx["hw"] = boards.build(ctx["prov"]["board"], machine)
        return True, ",".join(sorted(k for k in ctx["hw"] if k != "battery_ratio"))

    def _sensors():
        if "sensors" not in ctx:
            from node import sensors

            power = ctx["hw"].get("sensor_power")
            if power is not None:
                power.value(1)
            p = ctx["prov"]
            ctx["sensors"] = sensors.build(ctx["hw"], p["ultrasonic"], p["climate"])
        return ctx["sensors"]

    def ultrasonic():
        from node.sensors import ultrasonic as us

        ranger = _sensors()[0]
        if ranger is None:
            return True, "not fitted", "not_fitted", {}
        mm = ranger.measure()
        if mm == us.FAULT:
            return False, "no answer or garbage", "no_answer", {}
        if mm == us.NO_ECHO:
            return True, "no echo", "no_echo", {}
        return True, "%d mm" % mm, "distance_mm", {"mm": mm}

    def climate():
        sensor = _sensors()[1]
        if sensor is None:
            return True, "not fitted", "not_fitted", {}
        values = sensor.read()
        if values is None:
            return False, "no valid reading (NACK or CRC)", "no_reading", {}
        t, rh = values[0], values[1]
        return True, "%.1f C %.0f %%" % (t, rh), "climate", {"temperature_c": t, "humidity_pct": rh}

    def battery():
        from node.sensors.battery import Battery

        adc = ctx["hw"].get("battery_adc")
        if adc is None:
            return True, "no battery divider on this board", "no_divider", {}
        mv = Battery(adc, ctx["hw"]["battery_ratio"]).read_mv()
        if mv is None:
            return False, "no battery (USB power?)", "no_battery", {}
        return True, "%d mV" % mv, "battery_mv", {"mv": mv}

    def modem():
        if ctx["hw"].get("link") == "native":
            return _native_radio(ctx["hw"])
        from node import rui3

        m = rui3.Rui3(ctx["hw"]["modem_uart"], ctx["hw"].get("modem_reset"))
        if not m.alive() and not m.recover():
            return False, "no answer to AT (wiring, power, baud rate?)", "no_at", {}
        eui = m.query("DEVEUI").lower()
        want = ctx["prov"]["dev_eui"].lower()
        if eui != want:  # the network would know this node under another identity: joins fail
            detail = "modem DevEUI %s, provision.json dev_eui %s" % (eui or "(none)", want)
            return False, detail, "deveui_mismatch", {"modem": eui, "provision": want}
        ver, joined = m.query("VER"), m.query("NJS")
        detail = "%s DevEUI %s joined=%s" % (ver, eui, joined)
        return True, detail, "modem_ok", {"version": ver, "dev_eui": eui, "joined": joined == "1"}

    def memory():
        gc.collect()
        free = gc.mem_free()
        return free > 16384, "%d bytes free" % free, "bytes_free", {"bytes": free}

    if _check(results, "provision", prov):
        _check(results, "config", config)
        if _check(results, "board", board):
            for name, fn in (
                ("ultrasonic", ultrasonic),
                ("climate", climate),
                ("battery", battery),
                ("modem", modem),
            ):
                _check(results, name, fn)
            power = ctx["hw"].get("sensor_power")
            if power is not None:
                power.value(0)
    _check(results, "memory", memory)
    ok = all(r["ok"] for r in results)
    print("SELFTEST " + json.dumps({"ok": ok, "checks": results}))
    return ok
