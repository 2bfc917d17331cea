"""provision.json is read by the firmware and checked by the node tool with one checker
(protocols/provisioning.py): a file one accepts, the other accepts (issue 11, section 4)."""

import pytest
from fw_defaults import PROVISION

from tools.nodetool.provision import problems

DOCS = {
    "valid": PROVISION,
    "lowercase keys": {**PROVISION, "app_key": PROVISION["app_key"].lower()},
    "no band": {k: v for k, v in PROVISION.items() if k != "band"},
    "band true": {**PROVISION, "band": True},
    "band 12": {**PROVISION, "band": 12},
    "name a number": {**PROVISION, "name": 5},
    "name null": {**PROVISION, "name": None},
    "unknown climate": {**PROVISION, "climate": "dht22"},
    "no sensors": {**PROVISION, "ultrasonic": None, "climate": None},
    "v true": {**PROVISION, "v": True},
}


@pytest.mark.parametrize("case", sorted(DOCS))
def test_firmware_and_node_tool_agree(make_node, case):
    doc = DOCS[case]
    node = make_node(provision=doc)
    code = (
        "from node import provision\n"
        "try:\n    print('LOADED', provision.load()['band'])\n"
        "except provision.ProvisionError as e:\n    print('REFUSED', e)\n"
    )
    node.run(1, exec_code=code)
    tool = problems(doc)
    if tool:
        assert "REFUSED" in node.log and tool[0] in node.log, (tool, node.log[-500:])
    else:
        assert "LOADED" in node.log, node.log[-500:]
