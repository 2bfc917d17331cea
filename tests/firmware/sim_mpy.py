"""The .mpy tree a simulated node runs: one source tree's firmware/ and protocols/ plus the current sim layer.

Compiled with mpy-cross as the node tool and the emulator deploy them (main.py stays source); used by the
firmware tests (conftest) and bench/energy.py (which compiles a baseline git ref the same way).
"""

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SIM = ROOT / "tools" / "emulator" / "sim"


def tool(name: str) -> str:
    path = VENV_BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def compile_tree(src: Path, out: Path) -> Path:
    """src/firmware/* at the top of out, src/protocols/ as a package, the sim modules beside them."""
    sources = [(p, p.relative_to(src / "firmware")) for p in (src / "firmware").rglob("*.py")]
    sources += [(p, p.relative_to(src)) for p in (src / "protocols").glob("*.py")]
    sources += [(p, p.relative_to(SIM)) for p in SIM.glob("*.py") if p.name != "simboot.py"]
    for p, rel in sources:
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel.name == "main.py":
            shutil.copy(p, dest)
        else:
            subprocess.run([tool("mpy-cross"), "-o", str(dest.with_suffix(".mpy")), str(p)], check=True)
    return out
