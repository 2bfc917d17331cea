"""Native-LoRaWAN boards (SX1262, issue 14) have no modem to ask for a DevEUI: the node tool does not try."""

from tools.nodetool.modem import ask_dev_eui


class _NoBoard:
    def exec(self, code, timeout=None):  # noqa: ANN001, ANN201
        raise AssertionError("a native board has no modem: nothing is sent to the board")


def test_native_board_has_no_modem_dev_eui():
    for name in ("rak11200_rak13300", "heltec_v3"):
        answer = ask_dev_eui(_NoBoard(), name)  # type: ignore[arg-type]
        assert answer.dev_eui is None and "no LoRaWAN modem" in answer.problem
