"""Downlinks to the node (config, command): parsed and applied here, loaded only in a cycle that gets one
(node/app.py unloads it again), so other cycles' heap does not carry this code (64 KB heap).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

from node import log, store
from node.app import MEASURE_NOW_SLEEP_MS
from protocols import settings


def handle(node, fport, data, codec):
    st = node.state
    try:
        if fport == codec.PORT_CONFIG:
            version, entries = codec.parse_config(data)
            report = node.cfg.apply(version, entries)
            node.cfg.save()
            st.set_report(version, [(sid, settings.STATUSES.index(s)) for sid, s in report])
            st.set(store.F_REPORT_DUE)
            log.info("config %d applied: %s" % (version, report))
            changed = [settings.BY_ID[sid][1] for sid, s in report if s == "ok"]
            if "adr" in changed or "data_rate" in changed:  # the link holds these
                node.link.set_rate(node.cfg["adr"], node.cfg["data_rate"])
            if "confirmed" in changed:
                node.link.set_confirmed(node.cfg["confirmed"])
        elif fport == codec.PORT_COMMAND:
            command = codec.decode_downlink(fport, data)["command"]
            log.info("command: " + command)
            if command == "reboot":
                node.reboot = True
            elif command == "status_now":
                st.set(store.F_STATUS_DUE)
            elif command == "measure_now":
                st.set(store.F_MEASURE_NOW)
                node.sleep_ms = MEASURE_NOW_SLEEP_MS
            elif command == "rejoin":
                st.set(store.F_JOINED, False)
                st.next_join_s = 0
                node.link.forget()
        else:
            log.warning("downlink on unknown fPort %d ignored" % fport)
    except codec.CodecError as e:
        log.error("downlink fPort %d rejected: %s" % (fport, e))
        if fport == codec.PORT_CONFIG:  # SPEC: a broken frame is answered with the old version, no entries
            st.set_report(node.cfg.version, [])
            st.set(store.F_REPORT_DUE)
