"""The architecture holds: the app layering of DESIGN.md and no import cycles anywhere.

The contracts live in pyproject.toml ([tool.importlinter]); `lint-imports` reads every import,
including those inside functions, so a cycle cannot hide behind a function-level import.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout
