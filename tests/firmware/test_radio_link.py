"""simworld's TCP radio link (CONTRACTS section 4) against a minimal host written from the contract."""

import json
import socketserver
import threading

from protocols import codec


class _Host(socketserver.StreamRequestHandler):
    def handle(self):
        for raw in self.rfile:
            msg = json.loads(raw)
            self.server.messages.append(msg)
            op = msg["op"]
            if op == "boot":
                reply = {
                    "env": {"distance_cm": 50, "temperature_c": 12.0, "humidity_pct": 70, "battery_v": 3.7},
                    "faults": {},
                    "radio": {"rssi": -100, "snr": 2},
                }
            elif op == "join":
                reply = {"ok": True, "dev_addr": "26011234"}
            elif op == "uplink":
                dl = None
                if msg["fcnt"] == 0:
                    dl = {
                        "fport": 11,
                        "data": codec.encode_command("status_now").hex(),
                        "rssi": -101,
                        "snr": 3,
                    }
                reply = {"ok": True, "ack": False, "downlink": dl}
            else:
                reply = {"continue": sum(m["op"] == "sleep" for m in self.server.messages) < 3}
            self.wfile.write(json.dumps(reply).encode() + b"\n")


def test_tcp_radio_link_follows_the_contract(make_node, monkeypatch):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Host)
    server.messages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("KUMPEL_SIM_RADIO", f"127.0.0.1:{server.server_address[1]}")
        node = make_node(env={})
        boots = node.run(10, tcp=True)
    finally:
        server.shutdown()
        server.server_close()
    ops = [m["op"] for m in server.messages]
    assert len(boots) == 3, "the host said stop after the third sleep"
    assert ops[:3] == ["boot", "join", "uplink"] and ops.count("boot") == 3 and ops[-1] == "sleep"
    first = server.messages[0]
    assert first["dev_eui"] == "70b3d57ed0050100" and first["reset_cause"] == "power_on"
    assert server.messages[1]["join_eui"] == "0000000000000001"
    ups = [m for m in server.messages if m["op"] == "uplink"]
    assert [u["fcnt"] for u in ups] == list(range(len(ups)))
    status = codec.decode_uplink(ups[0]["fport"], bytes.fromhex(ups[0]["data"]))
    assert status["type"] == "status" and status["battery_mv"] == 3700
    # the status_now downlink in RX1 of fCnt 0 is answered by a second status with the downlink's link stats
    again = codec.decode_uplink(ups[1]["fport"], bytes.fromhex(ups[1]["data"]))
    assert again["type"] == "status" and again["rssi"] == -101 and again["snr"] == 3
    sleep = next(m for m in server.messages if m["op"] == "sleep")
    assert sleep["awake_ms"] > 0 and sleep["tx_ms"] > 0 and sleep["sleep_ms"] > 800_000
    assert all(
        m["time_us"] >= p["time_us"] for p, m in zip(server.messages, server.messages[1:], strict=False)
    )
