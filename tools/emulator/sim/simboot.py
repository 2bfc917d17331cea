"""Boot loop of a simulated node: run firmware main.py, catch deep sleep, advance the clock, boot again.

    micropython -X heapsize=128k tools/emulator/sim/simboot.py [WORLD.json [FLASH_DIR]]

MICROPYPATH = tools/emulator/sim, then a folder holding firmware/ (main.py, node/) and protocols/.
Env: KUMPEL_SIM_WORLD (world file, if not an argument), KUMPEL_SIM_FLASH (the node's filesystem, default
the current directory), KUMPEL_SIM_RADIO=host:port (TCP radio link, else offline), KUMPEL_SIM_CYCLES=N
(stop after N boots; else until world end_us or the host says stop), KUMPEL_SIM_TRACE=file (one JSON line
per boot: reset cause, awake/tx ms, AT exchanges, heap peak, how it ended), KUMPEL_SIM_EXEC=code (one
boot running this code instead of main.py, e.g. "import node.selftest; node.selftest.run()").
Each boot is a fresh import of the firmware (its modules are purged from sys.modules), RTC memory and the
flash folder are kept; a power cut loses RTC memory; a watchdog expiry reboots with WDT_RESET.
Exit status: 0 done, 3 the firmware hung without a watchdog (a bug to fix).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import builtins
import os
import sys


def _prefer_compiled():
    """Move folders holding compiled sim modules (machine.mpy) ahead of this script's source folder:
    compiling the sim layer from source would take heap the firmware needs."""
    for folder in sys.path[1:]:
        try:
            os.stat((folder or ".") + "/machine.mpy")
        except OSError:
            continue
        sys.path.remove(folder)
        sys.path.insert(0, folder)
        return


_prefer_compiled()

import time  # noqa: E402

import machine  # noqa: E402
import simworld  # noqa: E402

# ROM bootloader + MicroPython start-up before main.py runs: ~420 ms from reset to a trivial main.py going
# back to sleep, measured by others on an ESP32 (issue 11); tools/energy.py input `boot_ms`
BOOT_MS = 420
# Loading one compiled .mpy module from the ESP32's littlefs: tools/energy.py `import_ms_per_module` (a
# guess). Frozen modules cost ~nothing; the sim charges every firmware module a boot imports.
IMPORT_US = 4000
POWER_OFF_MS = 5000  # how long the supply stays away after a simulated power cut


def _find_main():
    for folder in sys.path:
        path = (folder or ".") + "/main.py"
        try:
            with open(path) as f:
                return path, f.read()
        except OSError:
            pass
    raise RuntimeError("main.py not found on MICROPYPATH: put the firmware folder on it")


def run(world_path, flash_dir, max_cycles=0, exec_code=None):
    flash_dir = flash_dir or "."
    world = simworld.load(world_path, flash_dir)
    if exec_code:  # one boot running this code instead of main.py (self-test, technician commands)
        path, source, max_cycles = "<KUMPEL_SIM_EXEC>", exec_code, 1
    else:
        path, source = _find_main()
    os.chdir(flash_dir)
    code = compile(source, path, "exec")
    del source
    builtin_open = builtins.open
    builtins.open = world.flash_open(builtin_open)
    builtin_import = builtins.__import__
    builtins.__import__ = _timed_import(builtin_import, world)
    keep = set(n for n in sys.modules if n != "node" and not n.startswith("node."))
    cycles = 0
    status = 0
    try:
        while True:
            _purge(keep)
            world.boot()  # collects garbage, then takes the sim layer's heap share
            if world.faults.get("power") == "brownout":
                print("[%d] SIM battery empty (brownout): node stops" % time.ticks_ms())
                break
            time.advance_us(BOOT_MS * 1000)
            note, cause, sleep_ms = _boot_once(code, world)
            _scrub()
            if cause is None and exec_code:
                cause = machine.SOFT_RESET  # the code ran to its end, as on a REPL
            if cause is None:
                print(
                    "[%d] SIM firmware stopped without deep sleep and no watchdog: node hangs"
                    % time.ticks_ms()
                )
                status = 3
                break
            cycles += 1
            if not world.end_cycle(cause, sleep_ms, note) or (max_cycles and cycles >= max_cycles):
                break
            time.advance_us(sleep_ms * 1000)
    finally:
        builtins.open = builtin_open
        builtins.__import__ = builtin_import
        _purge(keep)  # the last boot's firmware: free its heap before the world is written
        world.save()
    return status


def _timed_import(builtin_import, world):
    """__import__ that advances the clock per firmware module it loads (node.*, protocols.*), as loading
    bytecode from flash takes time on the ESP32; the count is kept in world.imports for the trace."""

    def _import(name, *args):
        before = len(sys.modules)
        module = builtin_import(name, *args)
        loaded = len(sys.modules) - before
        relative = len(args) > 3 and args[3] > 0  # `from .ultrasonic import ...` inside node.sensors
        if loaded > 0 and (relative or name.startswith("node") or name.startswith("protocols")):
            world.imports += loaded
            time.advance_us(loaded * IMPORT_US)
        return module

    return _import


def _purge(keep):
    """Forget the firmware's modules, as a reset does. A module is also an attribute of its package:
    drop that too when the package stays (protocols, imported by the sim layer), or the last boot's
    protocols.codec & co. would stay alive and be counted as the sim layer's heap."""
    for name in list(sys.modules):
        if name in keep:
            continue
        del sys.modules[name]
        parent, _, short = name.rpartition(".")
        if parent in keep:
            try:
                delattr(sys.modules[parent], short)
            except (AttributeError, KeyError):
                pass


def _boot_once(code, world):
    """Run main.py once: (how it ended, next reset cause, deep sleep ms). A function of its own so the
    firmware's objects die with its frame (the Unix port scans the C stack conservatively: a stale pointer
    in a long-lived frame would keep a whole boot's modules alive and blur the heap figures)."""
    sleep_ms = 0
    scope = {"__name__": "__main__"}
    try:
        exec(code, scope)
        note = "returned"
        cause = _hang(world)
    except machine.DeepSleep as e:
        note, cause, sleep_ms = "deepsleep", machine.DEEPSLEEP_RESET, int(e.args[0])
    except machine.Reset as e:
        note, cause = "reset", e.args[0]
    except machine.WatchdogExpired:
        note, cause = "watchdog", machine.WDT_RESET
    except machine.PowerCut:
        note, cause, sleep_ms = "power_cut", machine.PWRON_RESET, POWER_OFF_MS
        world.rtc_memory = b""
        world.modem.power_lost()
    except Exception as e:  # the REPL would sit there until the watchdog bites
        sys.print_exception(e)
        note = "crashed"
        cause = _hang(world)
    world.wdt_timeout_us = None
    scope.clear()  # drop main.py's globals (the firmware's modules) before the next boot
    return note, cause, sleep_ms


def _scrub(depth=24):
    """Overwrite the C stack below the boot loop with non-pointers (see _boot_once)."""
    if depth:
        a = b = c = d = 0  # noqa: F841
        _scrub(depth - 1)


def _hang(world):
    """The firmware left main.py: only a running watchdog brings the node back."""
    if world.wdt_timeout_us is None:
        return None
    time.set_us(world.wdt_fed_us + world.wdt_timeout_us)
    return machine.WDT_RESET


def main():
    argv = sys.argv
    world_path = argv[1] if len(argv) > 1 else os.getenv("KUMPEL_SIM_WORLD")
    flash = argv[2] if len(argv) > 2 else os.getenv("KUMPEL_SIM_FLASH")
    cycles = int(os.getenv("KUMPEL_SIM_CYCLES") or 0)
    sys.exit(run(world_path, flash, cycles, os.getenv("KUMPEL_SIM_EXEC")))


main()
