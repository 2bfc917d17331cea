"""node.selftest.run() on simulated hardware: one SELFTEST line, a check per part, faults named."""

import json

SELFTEST = "import node.selftest; node.selftest.run()"


def _result(node):
    lines = [line for line in node.log.splitlines() if line.startswith("SELFTEST ")]
    assert len(lines) == 1, node.log[-2000:]
    return json.loads(lines[0][len("SELFTEST ") :])


def test_selftest_passes_on_a_healthy_node(make_node):
    node = make_node()
    node.run(1, exec_code=SELFTEST)
    result = _result(node)
    assert result["ok"], result
    checks = {c["name"]: c for c in result["checks"]}
    assert set(checks) == {
        "provision",
        "config",
        "board",
        "ultrasonic",
        "climate",
        "battery",
        "modem",
        "memory",
    }
    assert checks["ultrasonic"]["detail"].endswith("mm") and checks["battery"]["detail"] == "3900 mV"
    assert "RUI_" in checks["modem"]["detail"]
    # each detail also as a code and its numbers, so the fleet's pages can word it in German
    assert checks["battery"]["code"] == "battery_mv" and checks["battery"]["params"] == {"mv": 3900}
    assert checks["ultrasonic"]["code"] == "distance_mm" and checks["ultrasonic"]["params"]["mm"] > 0
    assert checks["memory"]["code"] == "bytes_free" and checks["memory"]["params"]["bytes"] > 16384
    assert checks["modem"]["code"] == "modem_ok" and checks["modem"]["params"]["version"].startswith("RUI_")
    assert node.uplinks() == [], "a self-test never transmits"


def test_selftest_names_the_broken_parts(make_node):
    node = make_node(faults={"climate": "nack", "modem": "silent"})
    node.run(1, exec_code=SELFTEST)
    result = _result(node)
    assert not result["ok"]
    failed = {c["name"] for c in result["checks"] if not c["ok"]}
    assert failed == {"climate"}, result  # the silent modem is reset by the self-test and answers again


def test_selftest_without_provisioning_says_so(make_node):
    node = make_node(provision=None)
    node.run(1, exec_code=SELFTEST)
    result = _result(node)
    assert not result["ok"]
    assert result["checks"][0]["name"] == "provision" and "missing" in result["checks"][0]["detail"]


def test_selftest_fails_when_the_modem_has_another_dev_eui(make_node):
    node = make_node(dev_eui="70b3d57ed0050999")  # the modem's factory DevEUI is not the provisioned one
    node.run(1, exec_code=SELFTEST)
    result = _result(node)
    assert not result["ok"]
    modem = next(c for c in result["checks"] if c["name"] == "modem")
    assert not modem["ok"]
    assert "70b3d57ed0050999" in modem["detail"] and "70b3d57ed0050100" in modem["detail"]
    assert modem["code"] == "deveui_mismatch"
    assert modem["params"] == {"modem": "70b3d57ed0050999", "provision": "70b3d57ed0050100"}


def test_selftest_modem_check_names_the_matching_dev_eui(make_node):
    node = make_node()
    node.run(1, exec_code=SELFTEST)
    modem = next(c for c in _result(node)["checks"] if c["name"] == "modem")
    assert modem["ok"] and "DevEUI 70b3d57ed0050100" in modem["detail"]
