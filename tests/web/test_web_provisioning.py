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
    assert re.search(r'<td class="mono">ultrasonic</td><td class="good">passed</td><td>812 mm</td>', passed)

    failed = _section(as_role("viewer").get(f"/nodes/{SILENT}").text)
    assert "Not verified yet" in failed and "failed." in failed
    assert '<td class="bad">failed</td>' in failed
    assert "<script>" not in failed and "&lt;script&gt;" in failed  # the detail is escaped
    german = _section(signed_in("viewer", "de").get(f"/nodes/{SILENT}").text)
    assert "nicht bestanden" in german and "Letzte Prüfung" in german
