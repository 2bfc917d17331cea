"""Boot script of the Kumpel node: one wake cycle, then deep sleep (firmware/README.md).

Any exception that escapes the cycle is logged and turned into a short deep sleep, so a bug costs one
cycle, not a crash loop with the radio on.
"""

import machine

try:
    from node import app

    app.main()
except Exception as e:  # noqa: BLE001  (last line of defence on the device)
    import sys

    print("[0] ERROR cycle crashed:")
    sys.print_exception(e)  # MicroPython-only (micropython-stdlib-stubs has it)
    machine.deepsleep(300000)
