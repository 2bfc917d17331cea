"""One DevEUI rule and one TR005 label text, used by the fleet (ingest, API, CLI, pages) and the node tool."""

import pytest

from protocols import identity


@pytest.mark.parametrize(
    "typed",
    ["70b3d57ed0000b0a", "70-B3-D5-7E-D0-00-0B-0A", "70:b3:d5:7e:d0:00:0b:0a", " 70b3 d57e d000 0b0a "],
)
def test_every_way_a_deveui_is_typed_or_scanned_means_the_same_node(typed):
    assert identity.parse_eui(typed) == "70B3D57ED0000B0A"
    assert identity.normalize_eui(typed) == "70B3D57ED0000B0A"


@pytest.mark.parametrize("bad", ["", "70b3d57ed0000b0", "70b3d57ed0000b0g", "70b3d57ed0000b0a00", None, 42])
def test_a_deveui_that_is_not_16_hex_digits_is_refused_with_what_was_given(bad):
    with pytest.raises(ValueError, match="16 hex digits|not a string"):
        identity.parse_eui(bad, "DevEUI")


def test_tr005_text_has_the_lora_alliance_layout():
    # TR005: LW:D0:<JoinEUI 16 hex>:<DevEUI 16 hex>:<ProfileID 8 hex>
    # (/work/shared/reference/network-servers.md)
    assert (
        identity.tr005("1122334455667788", "aabbccddeeff0011", "aabb1122")
        == "LW:D0:1122334455667788:AABBCCDDEEFF0011:AABB1122"
    )


def test_the_six_places_use_the_one_rule():
    """No module normalises a DevEUI by hand any more (the replace(':', '')...upper() chains)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    places = [
        "fleet/lns/base.py",
        "tools/nodetool/provision.py",
        "fleet/api/deps.py",
        "fleet/api/routes/devices.py",
        "fleet/cli.py",
        "fleet/web/views/node.py",
        "fleet/services/labels.py",
    ]
    for place in places:
        text = (root / place).read_text()
        assert 'replace(":", "")' not in text and 'ch not in ":- "' not in text, place
        assert 'f"LW:D0:' not in text, place
