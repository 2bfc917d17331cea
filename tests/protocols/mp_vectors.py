# Golden vectors through the Python codec *inside* the MicroPython Unix port (run with -X heapsize=64k).
# Usage: micropython -X heapsize=64k mp_vectors.py <root> <frame> [<frame> ...]
#   <root> holds protocols/ (source, or .mpy from mpy-cross as a node runs it) and protocols/vectors/.
#   Or compiled: import mp_vectors; mp_vectors.main(root, frames) (less heap fragmentation).
# Prints "FAIL <frame> <kind> <name>: <why>" per failure, then "DONE <checked> <failed> <peak heap bytes>".
import gc
import json
import sys

codec = None
ROOT = ""

# The frame modules a frame's vectors need, imported before its JSON is parsed (as a node would at boot).
MODULES = {
    "measurement": ("measurement", "uplink"),
    "batch": ("measurement", "uplink"),
    "status": ("status", "uplink"),
    "config_report": ("status", "uplink"),
    "config": ("downlink",),
    "command": ("downlink",),
}

checked = 0
failed = 0
peak = 0


def note_heap():
    global peak
    used = gc.mem_alloc()
    if used > peak:
        peak = used


def to_hex(data):
    return "".join([f"{b:02x}" for b in data])


def from_hex(text):
    out = bytearray(len(text) // 2)
    for i in range(len(out)):
        out[i] = int(text[2 * i : 2 * i + 2], 16)
    return bytes(out)


def encode(frame, obj):
    if frame == "config_report":
        return codec.encode_config_report(obj["config_version"], obj["entries"])
    return getattr(codec, "encode_" + frame)(obj)


def decode(doc, data):
    if doc["direction"] == "up":
        return codec.decode_uplink(doc["fport"], data)
    return codec.decode_downlink(doc["fport"], data)


def same(a, b):
    """Deep equality where 21 == 21.0 (JSON loses the difference) and lists equal tuples."""
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        for k in a:
            if k not in b or not same(a[k], b[k]):
                return False
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False
        for i in range(len(a)):
            if not same(a[i], b[i]):
                return False
        return True
    return a == b


def fail(frame, kind, name, why):
    global failed
    failed += 1
    print("FAIL", frame, kind, name + ":", why)


def expect_error(frame, kind, name, code, fn, arg):
    try:
        fn(arg)
    except codec.CodecError as e:
        if e.code != code:
            fail(frame, kind, name, "error " + str(e) + ", expected code " + code)
        return
    except Exception as e:  # noqa: BLE001 - the point: nothing but CodecError may escape
        fail(frame, kind, name, "raised " + type(e).__name__ + ": " + str(e))
        return
    fail(frame, kind, name, "no error, expected " + code)


BUF = None  # one line buffer, allocated before anything else so the heap cannot fragment under it


def lines(f):
    """Yield each line of f as a memoryview into BUF (valid until the next one): no per-line allocation."""
    mv = memoryview(BUF)
    filled = 0
    eof = False
    while True:
        end = BUF.find(b"\n", 0, filled)
        if end < 0 and not eof:
            if filled == len(BUF):
                raise ValueError("vector line longer than the " + str(len(BUF)) + "-byte buffer")
            n = f.readinto(mv[filled:])
            if not n:
                eof = True
            else:
                filled += n
            continue
        if end < 0:
            end = filled
            if not end:
                return
        yield mv[:end]
        rest = filled - end - 1
        if rest > 0:
            BUF[0:rest] = BUF[end + 1 : filled]
        filled = rest if rest > 0 else 0


def run(frame):
    """Vector files hold one vector per line: parse one at a time so a 64 KB heap suffices."""
    global checked
    for name in MODULES[frame]:
        __import__("protocols." + name)
    doc = None
    section = None
    with open(ROOT + "/protocols/vectors/" + frame + ".json", "rb") as f:
        for line in lines(f):
            gc.collect()
            head = bytes(line[:12])
            if head.startswith(b'{"frame"'):
                doc = json.loads(bytes(line).rstrip(b",") + b"}")
            elif head.startswith(b'"'):
                section = json.loads(bytes(line).rstrip(b"[ :"))
            elif head.startswith(b'{"name"'):
                checked += 1
                v = json.loads(line[: len(line) - 1] if line[len(line) - 1] == 44 else line)
                check(frame, doc, section, v)
                v = None
                note_heap()


def check(frame, doc, section, v):
    if section == "valid":
        try:
            # One direction at a time, each input dropped before the other runs: a 20-reading batch
            # vector (input, expected output and the codec's own result) sits close to the 64 KB heap.
            got = to_hex(encode(frame, v.pop("object")))
            if got != v["hex"]:
                fail(frame, section, v["name"], "encoded " + got + ", expected " + v["hex"])
            got = None
            gc.collect()
            dec = decode(doc, from_hex(v["hex"]))
            if not same(dec, v["decoded"]):
                fail(frame, section, v["name"], "decoded " + repr(dec))
        except Exception as e:  # noqa: BLE001
            fail(frame, section, v["name"], "raised " + type(e).__name__ + ": " + str(e))
    elif section == "malformed":
        expect_error(frame, section, v["name"], v["error"], lambda h: decode(doc, from_hex(h)), v["hex"])
    else:
        expect_error(frame, section, v["name"], v["error"], lambda o: encode(frame, o), v["object"])


def fuzz(root, per_port, seed):
    """Random and version-1 byte strings into every decoder: anything but CodecError is a failure."""
    global ROOT, codec, checked
    ROOT = root
    sys.path.insert(0, root)
    from protocols import codec as _codec

    codec = _codec
    state = seed
    for port in (1, 2, 3, 4, 10, 11):
        decode = codec.decode_uplink if port < 10 else codec.decode_downlink
        for i in range(per_port):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            buf = bytearray(state % 40)
            for k in range(len(buf)):
                state = (state * 1103515245 + 12345) & 0x7FFFFFFF
                buf[k] = (state >> 16) & 0xFF
            if buf and i & 1:
                buf[0] = 0x20 | (buf[0] & 0x1F)
            checked += 1
            expect_error_or_ok(port, decode, bytes(buf))
            if port == 10:
                expect_error_or_ok(port, lambda p, b: codec.parse_config(b), bytes(buf))
        gc.collect()
        note_heap()
    print("DONE", checked, failed, peak)


def expect_error_or_ok(port, decode, data):
    try:
        decode(port, data)
    except codec.CodecError:
        pass
    except Exception as e:  # noqa: BLE001 - the point: nothing but CodecError may escape
        fail("fport" + str(port), "fuzz", to_hex(data), "raised " + type(e).__name__ + ": " + str(e))


def main(root, frames):
    global ROOT, codec, BUF
    BUF = bytearray(6144)
    ROOT = root
    sys.path.insert(0, root)
    from protocols import codec as _codec

    codec = _codec
    for frame in frames:
        run(frame)
        gc.collect()
    print("DONE", checked, failed, peak)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
