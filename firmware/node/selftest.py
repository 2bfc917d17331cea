"""On-device self-test for the technician (CONTRACTS section 3): `import node.selftest; node.selftest.run()`.

Prints one line `SELFTEST {json}` with {"ok", "checks": [{"name", "ok", "detail"}]}. Each check is
independent and never raises, so one broken part does not hide the state of the others. It measures but
sends nothing: the radio check only asks the modem for its version, DevEUI (must be provision.json's
dev_eui: issue 7) and join state.
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import gc
import json

import machine

CHECKS = ("provision", "config", "board", "ultrasonic", "climate", "battery", "modem", "memory")


def _check(results, name, fn):
    try:
        ok, detail = fn()
    except Exception as e:  # a self-test reports, it never crashes
        ok, detail = False, "%s: %s" % (type(e).__name__, e)
    results.append({"name": name, "ok": bool(ok), "detail": str(detail)})
    return ok


def run():
    from node import boards, provision
    from node.config import Config

    results = []  # type: list[dict]
    ctx = {}

    def prov():
        ctx["prov"] = provision.load()
        p = ctx["prov"]
        return True, "%s %s board=%s" % (p["name"] or "-", p["dev_eui"], p["board"])

    def config():
        cfg = Config().load()
        ctx["cfg"] = cfg
        return cfg.problem is None, cfg.problem or "version %d" % cfg.version

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
            return True, "not fitted"
        mm = ranger.measure()
        if mm == us.FAULT:
            return False, "no answer or garbage"
        return True, "no echo" if mm == us.NO_ECHO else "%d mm" % mm

    def climate():
        sensor = _sensors()[1]
        if sensor is None:
            return True, "not fitted"
        values = sensor.read()
        if values is None:
            return False, "no valid reading (NACK or CRC)"
        return True, "%.1f C %.0f %%" % (values[0], values[1])

    def battery():
        from node.sensors.battery import Battery

        adc = ctx["hw"].get("battery_adc")
        if adc is None:
            return True, "no battery divider on this board"
        mv = Battery(adc, ctx["hw"]["battery_ratio"]).read_mv()
        return mv is not None, "no battery (USB power?)" if mv is None else "%d mV" % mv

    def modem():
        from node import rui3

        m = rui3.Rui3(ctx["hw"]["modem_uart"], ctx["hw"].get("modem_reset"))
        if not m.alive() and not m.recover():
            return False, "no answer to AT (wiring, power, baud rate?)"
        eui = m.query("DEVEUI").lower()
        want = ctx["prov"]["dev_eui"].lower()
        if eui != want:  # the network would know this node under another identity: joins fail
            return False, "modem DevEUI %s, provision.json dev_eui %s" % (eui or "(none)", want)
        return True, "%s DevEUI %s joined=%s" % (m.query("VER"), eui, m.query("NJS"))

    def memory():
        gc.collect()
        free = gc.mem_free()
        return free > 16384, "%d bytes free" % free

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
