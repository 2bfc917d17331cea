"""Provisioning state on the pages: "not verified yet" until a verify run passes, the last run's checks on
the node page. Runs are reported through the REST API as `kumpel node verify` does (own seeded fleet)."""

import re

import web_seed as seed

HEALTHY, SILENT, LOW = seed.HEALTHY, seed.SILENT, seed.LOW_BATTERY


def _report(fleet, dev_eui: str, checks: list[dict]) -> dict:
    r = fleet.anonymous.post(
        f"/api/v1/devices/{dev_eui}/verifications",
        json={"checks": checks, "micropython": "1.27.0", "tool": "kumpel-node 0.1.0"},
        headers={"Authorization": f"Bearer {fleet.tokens['technician']}"},
    )
    assert r.status_code == 201, r.text
    return r.json()


def _unverified_in_overview(html: str) -> set[str]:
    """DevEUIs whose overview line says "not verified yet"."""
    block = html.split('<ul class="nodes">', 1)[1].split("</ul>", 1)[0]
    return {
        eui
        for eui, line in re.findall(r'<li><a href="/nodes/([0-9A-F]{16})">(.*?)</a></li>', block, re.S)
        if 'data-provisioned="no"' in line
    }


def _section(html: str) -> str:
    return html.split('<h2 id="provisioning">', 1)[1].split("<h2", 1)[0]


def test_unverified_nodes_say_so_and_a_pass_changes_it(fleet, as_role, signed_in):
    assert _unverified_in_overview(as_role("viewer").get("/").text) == {HEALTHY, SILENT, LOW}
    page = _section(as_role("viewer").get(f"/nodes/{HEALTHY}").text)
    assert "Not verified yet" in page and "<table" not in page  # never verified: no run to show
    german = _section(signed_in("viewer", "de").get(f"/nodes/{HEALTHY}").text)
    assert "Noch nicht geprüft" in german

    _report(fleet, HEALTHY, [{"name": "ultrasonic", "ok": True, "detail": "812 mm"}])
    _report(fleet, SILENT, [{"name": "modem_deveui", "ok": False, "detail": seed.HOSTILE_NAME}])

    assert _unverified_in_overview(as_role("viewer").get("/").text) == {SILENT, LOW}
    passed = _section(as_role("viewer").get(f"/nodes/{HEALTHY}").text)
    assert "Provisioned since" in passed and "passed." in passed and "Crew technician" in passed
    assert re.search(
        r'<td title="ultrasonic">Ultrasonic sensor</td><td class="good">passed</td><td>812 mm</td>', passed
    )

    failed = _section(as_role("viewer").get(f"/nodes/{SILENT}").text)
    assert "Not verified yet" in failed and "failed." in failed
    assert '<td class="bad">failed</td>' in failed
    assert "<script>" not in failed and "&lt;script&gt;" in failed  # the detail is escaped
    german = _section(signed_in("viewer", "de").get(f"/nodes/{SILENT}").text)
    assert "nicht bestanden" in german and "Letzte Prüfung" in german


def test_self_test_checks_in_german(fleet, signed_in):
    """Check names and, where the run reports a code and its numbers, the details in the reader's
    language; a detail without a code stays as the node reported it."""
    run = _report(
        fleet,
        LOW,
        [
            {
                "name": "provision_file",
                "ok": True,
                "detail": f"DevEUI {LOW}",
                "code": "dev_eui",
                "params": {"dev_eui": LOW},
            },
            {"name": "ultrasonic", "ok": True, "detail": "no echo", "code": "no_echo", "params": {}},
            {
                "name": "climate",
                "ok": False,
                "detail": "no valid reading (NACK or CRC)",
                "code": "no_reading",
                "params": {},
            },
            {
                "name": "battery",
                "ok": True,
                "detail": "3900 mV",
                "code": "battery_mv",
                "params": {"mv": 3900},
            },
            {
                "name": "modem",
                "ok": False,
                "detail": "modem DevEUI 70b3d57ed0050999, provision.json dev_eui x",
                "code": "deveui_mismatch",
                "params": {"modem": "70b3d57ed0050999", "provision": "x"},
            },
            {
                "name": "free_flash",
                "ok": True,
                "detail": "227 GB free",
                "code": "free",
                "params": {"bytes": 244276060160},
            },
            {"name": "something_new", "ok": True, "detail": "as the node said it"},
        ],
    )
    assert run["checks"][1]["code"] == "no_echo"  # stored and given back as reported
    rows = re.findall(
        r"<tr><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td><td>(.*?)</td></tr>",
        _section(signed_in("viewer", "de").get(f"/nodes/{LOW}").text),
    )
    shown = {re.sub(r"<[^>]+>", "", name): detail for name, _result, detail in rows}
    assert shown == {
        "Provisionierungsdatei": f"DevEUI {LOW}",
        "Ultraschallsensor": "kein Echo",
        "Klimasensor": "kein gültiger Messwert (NACK oder CRC)",
        "Batterie": "3,90 V",
        "Funkmodem": "Modem-DevEUI 70b3d57ed0050999, provision.json: x",
        "Freier Flash": "227 GB frei",
        "something_new": "as the node said it",
    }, shown
