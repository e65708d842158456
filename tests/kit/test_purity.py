"""`kit` holds pure functions every app may import: it must not reach Django, the database or any app."""

import ast
from pathlib import Path

KIT = Path(__file__).resolve().parents[2] / "kit"
ALLOWED_THIRD_PARTY = {"numpy", "regex"}
PROJECT_PACKAGES = {
    "config",
    "core",
    "accounts",
    "workforce",
    "labeling",
    "quality",
    "payments",
    "dashboards",
    "demo",
}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_kit_modules_import_only_the_standard_library_numpy_and_kit():
    import sys

    offenders = {}
    for path in sorted(KIT.rglob("*.py")):
        bad = {
            root
            for root in _imported_roots(path)
            if root != "kit"
            and root not in ALLOWED_THIRD_PARTY
            and (
                root in PROJECT_PACKAGES or root == "django" or root not in sys.stdlib_module_names
            )
        }
        if bad:
            offenders[path.name] = sorted(bad)

    assert offenders == {}
