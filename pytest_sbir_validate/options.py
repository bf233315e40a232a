"""Settings that are both a command-line option and an ini key, declared and read in one place.

The command line wins over the ini file, which wins over the default. A path given on the
command line is relative to the directory pytest was started in; one in the ini file is relative
to the ini file, so it does not depend on where pytest runs. :meth:`SettingValue.describe` names
where a bad value came from, for usage errors: ``--budget-scale=0`` or
``budget_scale = 'fast' in the ini file``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = ["Setting", "SettingValue", "relative_to_ini"]


@dataclass(frozen=True)
class Setting:
    """An option ``--a-b`` with the ini key ``a_b`` (also the option's ``dest``)."""

    flag: str
    help: str
    default: str | None = None
    """The value when neither the command line nor the ini file sets it."""

    @property
    def name(self) -> str:
        """The ini key and ``dest``: ``--sbir-gate-time-warn`` -> ``sbir_gate_time_warn``."""
        return self.flag.removeprefix("--").replace("-", "_")

    def add_to(self, group: pytest.OptionGroup, parser: pytest.Parser, **option: Any) -> None:
        """Register the option in ``group`` and the ini key; ``option`` goes to ``addoption``."""
        group.addoption(self.flag, dest=self.name, default=None, help=f"{self.help} (ini: {self.name})", **option)
        parser.addini(self.name, f"{self.help} (see {self.flag})")

    def value(self, config: pytest.Config) -> SettingValue | None:
        """The value in force, or None when the setting is unset and has no default."""
        option = config.getoption(self.name)
        if option is not None:
            return SettingValue(self, option, "option")
        ini = config.getini(self.name)
        if ini not in ("", None, []):
            return SettingValue(self, str(ini).strip(), "ini")
        return None if self.default is None else SettingValue(self, self.default, "default")

    def get(self, config: pytest.Config) -> SettingValue:
        """The value in force of a setting that has a default."""
        value = self.value(config)
        if value is None:
            raise TypeError(f"{self.flag} has no default; use value(), which may return None")
        return value


@dataclass(frozen=True)
class SettingValue:
    """A setting's raw value and where it came from (``option``, ``ini`` or ``default``)."""

    setting: Setting
    raw: Any
    source: str

    def describe(self) -> str:
        """The value as the user wrote it, for messages."""
        if self.source == "ini":
            return f"{self.setting.name} = {self.raw!r} in the ini file"
        if self.source == "default":
            return f"{self.setting.flag} (default {self.raw!r})"
        return f"{self.setting.flag}={self.raw!r}"

    def path(self, config: pytest.Config) -> Path:
        """The value as a path: an ini path relative to the ini file, any other to the invocation directory."""
        if self.source == "ini":
            return relative_to_ini(config, str(self.raw))
        return config.invocation_params.dir / Path(str(self.raw)).expanduser()


def relative_to_ini(config: pytest.Config, raw: str) -> Path:
    """A path written in the ini file: relative to that file (the rootdir when there is none)."""
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return base / Path(raw).expanduser()
