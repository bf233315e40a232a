"""The scripts under `benchmarks/`, imported as modules so their tests can call their parts."""

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def benchmark_script(name: str) -> Iterator[ModuleType]:
    """`benchmarks/<name>.py` as the module `name` while in use (a generator for a fixture to
    yield from): registered in `sys.modules`, since dataclasses resolve their module by name."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]
