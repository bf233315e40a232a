"""The package's folders are its architecture: each layer imports only from layers below it.

    7  cli, the package root               (entry points: may use everything)
    6  checklist                           (deployment readiness: runs the job and the history gates)
    5  dagster_defs                        (the thin Dagster layer; the only one importing dagster)
    4  shards                              (the enrichment in award shards, for independent workers)
    3  enrichment                          (files in, files out: io + linkage + monitoring)
    2  evaluation | recipient_index | incremental  (metrics, gates, data with truth | the index as a file |
                                        what an incremental run keeps)
    1  linkage | io | monitoring           (the pure core, table I/O, measurement: independent)
    0  errors, columns, config, bundled, outcomes  (what every layer shares)

The pytest plugin (`pytest_sbir_validate`) sits above all of them; `sbir_etl` never imports it,
nor pytest.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import sbir_etl

PACKAGE_ROOT = Path(sbir_etl.__file__).parent

LAYERS: dict[str, int] = {
    "sbir_etl.errors": 0,
    "sbir_etl.columns": 0,
    "sbir_etl.config": 0,
    "sbir_etl.bundled": 0,
    "sbir_etl.outcomes": 0,
    "sbir_etl.linkage": 1,
    "sbir_etl.io": 1,
    "sbir_etl.monitoring": 1,
    "sbir_etl.evaluation": 2,
    "sbir_etl.recipient_index": 2,
    "sbir_etl.incremental": 2,
    "sbir_etl.enrichment": 3,
    "sbir_etl.shards": 4,
    "sbir_etl.dagster_defs": 5,
    "sbir_etl.checklist": 6,
    "sbir_etl.cli": 7,
    "sbir_etl": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit_of(module: str) -> str:
    """The layer entry a module belongs to: the longest registered prefix."""
    candidates = [unit for unit in LAYERS if module == unit or module.startswith(unit + ".")]
    return max(candidates, key=len)


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` anywhere in the file names (function-level imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = sorted(PACKAGE_ROOT.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    for path in MODULES:
        assert unit_of(module_name(path)) in LAYERS


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_only_go_down(path: Path) -> None:
    here = module_name(path)
    mine = unit_of(here)
    upward = []
    for target in imported_modules(path):
        if target.split(".")[0] in ("pytest", "_pytest", "pytest_sbir_validate"):
            upward.append(f"{target} (the core never imports the test layers)")
            continue
        if target.split(".")[0] != "sbir_etl" or target == "sbir_etl":
            continue
        theirs = unit_of(target)
        # Within one unit (and among the shared layer-0 modules) anything goes; else only down.
        if theirs != mine and LAYERS[theirs] >= LAYERS[mine] and not LAYERS[theirs] == LAYERS[mine] == 0:
            upward.append(f"{target} (layer {LAYERS[theirs]}) from layer {LAYERS[mine]}")
    assert not upward, f"{here} imports across or up the layers: {upward}"


def test_only_dagster_defs_imports_dagster() -> None:
    """Every module outside `dagster_defs` imports without loading Dagster (one fresh interpreter)."""
    names = [module_name(p) for p in MODULES if unit_of(module_name(p)) != "sbir_etl.dagster_defs"]
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "    if 'dagster' in sys.modules:\n"
        "        print(name); break\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"importing {done.stdout.strip()} loads dagster"
