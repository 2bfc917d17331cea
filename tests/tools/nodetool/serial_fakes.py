"""Serial stand-ins for the node-tool tests: a pty that answers like an ESP32 ROM bootloader, or never."""

import os
import threading
import tty

ROM_BANNER = b"ets Jun  8 2016 00:22:57\r\nrst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT)\r\n"


def rom_pty(answer: bytes | None):  # noqa: ANN202
    """A pty whose far end stays silent (None) or answers every write with `answer` (a ROM bootloader)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def serve() -> None:
        import select

        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 1024)
                except OSError:
                    return
                if answer:
                    os.write(master, answer)

    server = threading.Thread(target=serve, daemon=True)
    server.start()

    def close() -> None:
        # Join before closing: a server still selecting on a closed fd number would read and write
        # whatever file or pty the next open() is given that number (seen: a flashed image rewritten).
        stop.set()
        server.join(timeout=5)
        os.close(slave)
        os.close(master)

    return os.ttyname(slave), close
