"""The LoRaWAN link the wake cycle talks to: one small interface, two implementations.

- `Rui3Link` (node/link_rui3.py): a RAK3172 modem running RUI3 behind AT commands (node/rui3.py).
- `NativeLink` (node/link_native.py): the MicroPython LoRaWAN 1.0.4 stack (node/lorawan) on a bare
  SX1262 (node/radio/sx1262.py, or micropython-lib's lora-sx126x: see node/radio/README.md).
This module holds the native link's errors and helpers; the RUI3 path does not load it.

The board profile names which one a board has (boards.PROFILES[...]["link"]). Interface:
  joined                      -> bool: a session exists (the modem's, or the MAC's)
  join(attempt)               -> bool: one OTAA attempt (attempt = failures so far; back-off is the caller's)
  send(port, payload, confirmed) -> (sent, acked, downlinks, rssi, snr, wait_s, why): sent = it left;
                                 acked = confirmed and acknowledged, or unconfirmed and sent; downlinks
                                 ((fport, bytes), ...); rssi/snr of the last downlink (None if none);
                                 wait_s > 0: the duty cycle did not allow it, nothing was sent (sleep,
                                 try later), why for the log. A tuple, not an object: 64 KB heap
  set_rate(adr, data_rate)    : ADR on/off and the data rate when ADR is off
  set_confirmed(confirmed)    : the default for uplinks (RUI3 keeps it in the modem; native: per send)
  forget()                    : drop the session, so the next join() is a fresh OTAA join
  persist()                   -> bytes for RTC memory (b"" when the modem keeps its own state)
  sleep()                     : the radio to its lowest power before deep sleep
  recover()                   -> bool: bring a silent radio back (reset)
Errors: LinkError (refused), LinkSilent (the radio does not answer), NotJoined (session lost),
PayloadTooLong (payload + MAC answers over the limit); each link names its classes for them as ERROR,
SILENT, NOT_JOINED, TOO_LONG (the RUI3 link: the AT driver's own), so the
cycle catches `link.SILENT` & co. without a wrapper around every AT call.
"""


class LinkError(Exception):
    pass


class LinkSilent(LinkError):
    pass


class NotJoined(LinkError):
    pass


class PayloadTooLong(LinkError):
    """Payload + pending MAC answers over the data rate's limit (a RAK3172 then sends the answers alone)."""


def link_tail(image):
    """The link's bytes stored after the cycle's RTC image (store.State.pack: frame header + length)."""
    if not image or len(image) < 7:
        return None
    length = image[1] | (image[2] << 8)  # store.State.pack: version, payload length (LE), CRC
    tail = image[7 + length :]
    return bytes(tail) if tail else None
