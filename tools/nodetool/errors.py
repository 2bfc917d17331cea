"""Errors a technician can act on: each says what went wrong and, in `hint`, what to do next.

The CLI prints `message` and `hint` and exits with status 2; nothing else in the tool prints tracebacks
for these. One class per situation named in issue 7, so callers (and tests) can tell them apart.
"""


class NodeToolError(Exception):
    hint = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class NoPortError(NodeToolError):
    hint = "Plug the node in with a data USB cable (not a charge-only one), then run `kumpel node ports`."


class SeveralPortsError(NodeToolError):
    hint = "Say which one with --port (or set KUMPEL_NODE_PORT); `kumpel node ports` lists them."


class PortBusyError(NodeToolError):
    hint = "Close the other program using the port (serial monitor, Thonny, another kumpel), then retry."


class BoardNotAnsweringError(NodeToolError):
    hint = "Press the board's RESET button and retry; if it still does not answer, re-plug the USB cable."


class NoMicroPythonError(NodeToolError):
    hint = "Flash MicroPython first: `kumpel node flash --image ESP32_GENERIC-<version>.bin`."


class BoardError(NodeToolError):
    """Code on the board raised; the message carries the board's own error line."""

    hint = "Run `kumpel node deploy` again; if it persists, `kumpel node flash` and redeploy."


class WrongChipError(NodeToolError):
    hint = "Use the MicroPython image built for this chip (downloads: micropython.org/download/?port=esp32)."


class ImageError(NodeToolError):
    hint = (
        "Check the image file: it must be a MicroPython firmware .bin for this board's chip and flash size."
    )


class FlashError(NodeToolError):
    hint = "Hold BOOT, press RESET, release BOOT (download mode), then run `kumpel node flash` again."


class MpyVersionError(NodeToolError):
    hint = "Flash the MicroPython release the message names (`kumpel node flash`), then deploy again."


class FleetUnreachableError(NodeToolError):
    hint = "Check --fleet (e.g. https://fleet.example.org) and the depot network, then retry."


class FleetAuthError(NodeToolError):
    hint = "Set KUMPEL_TOKEN (or --token) to a valid API token (an admin: `kumpel fleet token create`)."


class RoleError(NodeToolError):
    hint = "Ask an admin for a technician token: `kumpel fleet token create --role technician`."


class FleetError(NodeToolError):
    hint = "The fleet manager refused the request; read its reason above, fix it and retry."


class KeysConflictError(NodeToolError):
    hint = (
        "This node or DevEUI already belongs to a device that passed verify with other keys. If you really "
        "mean to re-key it: `kumpel node setup --rotate-keys` (the old keys stop working)."
    )


class DevEuiMismatchError(NodeToolError):
    """The DevEUI given is not the one the modem answers: the node would join under the wrong identity."""

    hint = "Leave out --dev-eui: `kumpel node setup --new` uses the modem's own DevEUI."


class ProvisionFileError(NodeToolError):
    hint = "Run `kumpel node setup --fleet URL --new` to write a valid provisioning file."


class SelftestError(NodeToolError):
    hint = (
        "Fix the failed checks listed above (wiring, antenna, sensor), then run `kumpel node setup` again "
        "(re-running is safe) or just `kumpel node verify`."
    )
