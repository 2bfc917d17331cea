"""Make the repository's `tools` package win over the `tests/tools` folder on sys.path.

pytest puts tests/ on sys.path (rootdir conftest), where `tools/` is a namespace folder that would shadow
the real package; a regular package anywhere on the path wins, so the repository root only has to be there.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
