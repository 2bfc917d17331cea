"""Boot loop of a simulated node: run firmware main.py, catch deep sleep, advance the clock, boot again.

    micropython -X heapsize=128k tools/emulator/sim/simboot.py [WORLD.json [FLASH_DIR]]

MICROPYPATH = tools/emulator/sim, then a folder holding firmware/ (main.py, node/) and protocols/.
Env: KUMPEL_SIM_WORLD (world file, if not an argument), KUMPEL_SIM_FLASH (the node's filesystem, default
the current directory), KUMPEL_SIM_RADIO=host:port (TCP radio link, else offline), KUMPEL_SIM_CYCLES=N
(stop after N boots; else until world end_us or the host says stop), KUMPEL_SIM_TRACE=file (one JSON line
per boot: reset cause, awake/tx ms, AT exchanges, heap peak, how it ended), KUMPEL_SIM_EXEC=code (one
boot running this code instead of main.py, e.g. "import node.selftest; node.selftest.run()"),
KUMPEL_SIM_HEAP_FIGURES=0 (no heap sampling at each clock step: faster, heap figures read 0).

    micropython -X heapsize=... simboot.py --many NODES.json     (KUMPEL_SIM_HOST=host:port)
hosts many nodes in one process (the fast runner, see run_many).
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
    if os.getenv("KUMPEL_SIM_HEAP_FIGURES") == "0":  # bench/emulator.py's floor, like run_many's nodes
        _no_heap_sampling(keep)
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


# -- many nodes in one process (the fast runner, tools/emulator/runner.py) -------------------------------


class _Node:
    """One node hosted by run_many: its world (RTC memory, modem chip, sensors), its own copy of the sim
    layer's module state, and where its log goes."""

    def __init__(self, world_path, flash_dir, log_path):
        self.world_path = world_path
        self.flash_dir = flash_dir
        self.log_path = log_path
        self.world = None
        self.state = None  # its values of the state slots (_state_slots) while another node runs
        self.wake_us = 0
        self.cycles = 0
        self.done = False


def _state_slots(keep):
    """(module, name) of every module-level value of the sim layer that is not code: what a node may
    change (time's clock and watchdog hooks, simworld's current world, counters rebound with `global`).
    Found generically, so sim modules added later are covered without knowing their insides."""
    slots = []
    for name in sorted(keep):
        mod = sys.modules.get(name)
        d = getattr(mod, "__dict__", None)
        if d is None or mod is sys.modules.get("__main__"):
            continue
        for key, value in d.items():
            if key.startswith("__") or type(value) not in _STATE_TYPES:
                continue
            try:
                setattr(mod, key, value)  # built-in modules are read-only: nothing of a node's in them
            except (AttributeError, TypeError):
                break
            slots.append((mod, key))
    return slots


_STATE_TYPES = (list, dict, set, bytearray, int, float, str, bool, bytes, tuple, type(None))
_MUTABLE = (list, dict, set, bytearray)


class _GcWithoutFigures:
    """`gc` for the sim layer of a many-node process: collects as usual, but reports no heap figures.

    The sim layer samples gc.mem_alloc() at every clock step for the firmware's heap figures. That call
    walks the whole heap, and here the heap also holds every idle node's world, so the sampling would
    cost more than the firmware itself; and a figure counting other nodes' worlds means nothing. Heap
    figures come from one node per process (the reference runner, the firmware tests)."""

    def __init__(self, gc):
        self._gc = gc
        self.collect = gc.collect

    def mem_alloc(self):
        return 0

    def __getattr__(self, name):
        return getattr(self._gc, name)


def _no_heap_sampling(keep):
    import gc

    proxy = _GcWithoutFigures(gc)
    for name in keep:
        mod = sys.modules.get(name)
        if getattr(mod, "gc", None) is gc:
            try:
                mod.gc = proxy
            except (AttributeError, TypeError):
                pass


def _more_slots(keep, slots, pristine):
    """The state slots of `keep`, with the pristine values known so far and the others as they are now
    (modules the first world imported: their state right after that)."""
    known = {}
    for i in range(len(slots)):
        known[(id(slots[i][0]), slots[i][1])] = pristine[i]
    new = _state_slots(keep)
    values = []
    for mod, key in new:
        k = (id(mod), key)
        values.append(known[k] if k in known else getattr(mod, key))
    return new, values


def _fresh_state(pristine):
    """Module state as it was right after import: containers copied, so no node sees another's."""
    out = []
    for value in pristine:
        out.append(type(value)(value) if type(value) in _MUTABLE else value)
    return out


def _switch_in(slots, values):
    for i in range(len(slots)):
        mod, key = slots[i]
        setattr(mod, key, values[i])


def _switch_out(slots):
    return [getattr(mod, key) for mod, key in slots]


def _node_print(log):
    def _print(*args, sep=" ", end="\n", file=None):
        if file is not None:
            file.write(sep.join(str(a) for a in args) + end)
            return
        log.write(sep.join(str(a) for a in args) + end)

    return _print


def run_many(spec_path, address):
    """Host many nodes in this one process, each wake a fresh boot as in run(): the firmware's modules are
    purged from sys.modules before every boot, `main.py` runs again from its compiled code object, and
    the sim layer's module state is switched to the booting node's own copy (taken fresh from the state
    right after import when the node is created). What survives a wake is what survives on the node: its
    flash folder, RTC memory, and the chips that stay powered (modem, sensors) in its world.
    Nodes run in order of their wake time; before a wake past the granted horizon the host is asked for
    a turn (the conservative clock of radio_link.SimClock, with workers instead of nodes), so simulated
    time stays causal across processes. One TCP radio link for all nodes of this process."""
    import json

    with open(spec_path) as f:
        spec = json.load(f)
    worker = spec["worker"]
    link = _WorkerLink(simworld.TcpLink(address))
    path, source = _find_main()
    code = compile(source, path, "exec")
    del source
    keep = set(n for n in sys.modules if n != "node" and not n.startswith("node."))
    _no_heap_sampling(keep)
    slots = _state_slots(keep)
    pristine = _switch_out(slots)
    nodes = [_Node(w, fl, lg) for w, fl, lg in spec["nodes"]]
    builtin_open = builtins.open
    builtin_print = builtins.print
    builtin_import = builtins.__import__
    horizon = -1
    first = True
    pending = list(nodes)
    try:
        while pending:
            node = pending[0]
            for n in pending:  # a few hundred nodes per process: a scan is as cheap as a heap here
                if n.wake_us < node.wake_us:
                    node = n
            if node.world is not None and node.wake_us > horizon:
                reply = link.call({"op": "turn", "worker": worker, "time_us": node.wake_us})
                if not reply.get("continue"):
                    break
                horizon = reply["horizon"]
            log = builtin_open(node.log_path, "a")
            builtins.print = _node_print(log)
            _switch_in(slots, node.state or _fresh_state(pristine))
            try:
                if node.world is None:  # created in its own module state: its clock, its hooks
                    node.world = simworld.load(node.world_path, node.flash_dir)
                    node.world.link = link
                    node.wake_us = time.now_us()
                    if first:  # what a world loads (simmodem, ...) stays, as in run(): its state too
                        first = False
                        keep = set(n for n in sys.modules if n != "node" and not n.startswith("node."))
                        slots, pristine = _more_slots(keep, slots, pristine)
                else:
                    link.world = node.world
                    builtins.__import__ = _timed_import(builtin_import, node.world)  # as run() does
                    _wake(node, code, keep, builtin_open)
            except Exception as e:  # one node's failure must not take the others down
                print("SIM node failed:")
                sys.print_exception(e, log)
                node.done = True
            finally:
                builtins.open = builtin_open
                builtins.print = builtin_print
                builtins.__import__ = builtin_import
                log.close()
            if node.done:
                pending.remove(node)
                _purge(keep)  # the last boot's firmware: free its heap before the world is written
                try:
                    node.world.save()
                    link.call({"op": "done", "dev_eui": node.world.dev_eui, "time_us": time.now_us()})
                except Exception as e:  # noqa: BLE001
                    sys.print_exception(e)
                node.world = node.state = None
            else:
                node.state = _switch_out(slots)
    finally:
        builtins.open = builtin_open
        builtins.print = builtin_print
        builtins.__import__ = builtin_import
    return 0


class _WorkerLink:
    """The worker's one radio link. A `sleep` also says the next boot's reset cause, and the host answers
    it with that boot's env/faults/radio; the node's next `boot` then takes that answer instead of a round
    trip (the host has counted the boot). Other messages pass through."""

    def __init__(self, link):
        self._link = link
        self._boots = {}
        self.world = None  # the node that is awake

    def call(self, msg):
        op = msg.get("op")
        if op == "boot":
            reply = self._boots.pop(msg["dev_eui"], None)
            if reply is not None:
                return reply
        elif op == "sleep" and self.world is not None:
            msg["next_reset_cause"] = simworld._cause(self.world.reset_cause)
            reply = self._link.call(msg)
            if "boot" in reply:
                self._boots[msg["dev_eui"]] = reply["boot"]
            return reply
        return self._link.call(msg)


def _wake(node, code, keep, builtin_open):
    """One wake of one node: the body of run()'s loop. Sets node.wake_us, or node.done."""
    world = node.world
    os.chdir(node.flash_dir)
    builtins.open = world.flash_open(builtin_open)
    _purge(keep)
    world.boot()  # collects garbage, then takes the sim layer's heap share
    if world.faults.get("power") == "brownout":
        print("[%d] SIM battery empty (brownout): node stops" % time.ticks_ms())
        node.done = True
        return
    time.advance_us(BOOT_MS * 1000)
    note, cause, sleep_ms = _boot_once(code, world)
    _scrub()
    if cause is None:
        print("[%d] SIM firmware stopped without deep sleep and no watchdog: node hangs" % time.ticks_ms())
        node.done = True
        return
    node.cycles += 1
    if not world.end_cycle(cause, sleep_ms, note):
        node.done = True
        return
    time.advance_us(sleep_ms * 1000)
    node.wake_us = time.now_us()


def main():
    argv = sys.argv
    if len(argv) > 1 and argv[1] == "--many":  # simboot.py --many SPEC.json (KUMPEL_SIM_HOST=host:port)
        sys.exit(run_many(argv[2], os.getenv("KUMPEL_SIM_HOST")))
    world_path = argv[1] if len(argv) > 1 else os.getenv("KUMPEL_SIM_WORLD")
    flash = argv[2] if len(argv) > 2 else os.getenv("KUMPEL_SIM_FLASH")
    cycles = int(os.getenv("KUMPEL_SIM_CYCLES") or 0)
    sys.exit(run(world_path, flash, cycles, os.getenv("KUMPEL_SIM_EXEC")))


main()
