"""The machine class of a run: which saved timings its own may be compared with.

Asked once per run through the :func:`~pytest_sbir_validate.hookspec.pytest_sbir_machine_class`
hook; the default answer (this module, the last to be asked) is ``--sbir-machine-class`` / ini
``sbir_machine_class``, else a label from the OS, architecture, CPU count and RAM.
"""

from __future__ import annotations

import pytest

from pytest_sbir_validate.options import Setting
from sbir_etl.monitoring.history import current_machine_class

__all__ = ["MACHINE_CLASS", "add_options", "machine_class", "pytest_sbir_machine_class"]

MACHINE_CLASS = Setting(
    "--sbir-machine-class",
    "label of the kind of machine; baselines only compare runs with the same label "
    "(default: OS, architecture, CPU count and RAM, e.g. linux-x86_64-2cpu-8gib)",
)

_MACHINE_CLASS_KEY = pytest.StashKey[str]()


def add_options(parser: pytest.Parser) -> None:
    """Register ``--sbir-machine-class`` beside the other history options."""
    group = parser.getgroup("sbir-history", "sbir-validate metrics history and regression gates")
    MACHINE_CLASS.add_to(group, parser, metavar="LABEL")


@pytest.hookimpl(trylast=True)
def pytest_sbir_machine_class(config: pytest.Config) -> str:
    """The default answer: the option or ini value, else the label of this machine."""
    value = MACHINE_CLASS.value(config)
    return current_machine_class() if value is None else str(value.raw)


def machine_class(config: pytest.Config) -> str:
    """This run's machine class (asked once, then remembered on the config)."""
    if _MACHINE_CLASS_KEY not in config.stash:
        label = config.hook.pytest_sbir_machine_class(config=config)
        if not isinstance(label, str) or not label.strip():
            raise pytest.UsageError(
                f"pytest_sbir_machine_class returned {label!r}; a machine class is a non-empty string"
            )
        config.stash[_MACHINE_CLASS_KEY] = label.strip()
    return config.stash[_MACHINE_CLASS_KEY]
