"""The plugin as users get it: a wheel built from the sdist, installed into a fresh virtual
environment, used from an empty directory that is not this checkout.

Offline: the wheel is built without build isolation, and the fresh environment sees the
dependencies through a ``.pth`` file pointing at a view of this environment's site-packages
without pytest-sbir-validate itself, so what it imports of the plugin and the core comes from the
wheel alone (checked). The sdist is built first and the wheel from it, so both must carry the
scenarios.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from sbir_etl.bundled import BUNDLED_FIXTURES

ROOT = Path(__file__).resolve().parents[2]
OWN_DISTRIBUTION = ("pytest_sbir_validate", "__editable__", "sbir_etl")
SCENARIOS = sorted(p.name for p in BUNDLED_FIXTURES.iterdir() if (p / "expected.yaml").is_file())


@dataclass(frozen=True)
class Installed:
    wheel: Path
    sdist: Path
    venv: Path
    site_packages: Path

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the fresh environment in ``cwd``, with an environment a user's shell would have."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
        clean["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{clean.get('PATH', '')}"
        return subprocess.run(args, cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=600)


def _source_tree(destination: Path) -> Path:
    """The files a clean clone has (``git ls-files``; without git, the tree minus local state)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True)
    if listed.returncode == 0 and listed.stdout:
        for name in listed.stdout.decode().split("\0"):
            if name and (ROOT / name).is_file():
                (destination / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, destination / name)
    else:
        local = shutil.ignore_patterns(".*", "*.egg-info", "build", "dist", "out", "__pycache__")
        shutil.copytree(ROOT, destination, ignore=local, dirs_exist_ok=True)
    return destination


def _dependency_view(directory: Path) -> Path:
    """This environment's site-packages without pytest-sbir-validate (symlinks), for the .pth file."""
    directory.mkdir()
    for site in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]):
        for entry in Path(site).iterdir():
            if not entry.name.startswith(OWN_DISTRIBUTION) and not entry.name.endswith(".pth"):
                target = directory / entry.name
                if not target.exists():
                    target.symlink_to(entry)
    return directory


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    source = _source_tree(work / "source")
    dist = work / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    [wheel], [sdist] = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))

    environment = work / "venv"
    venv.EnvBuilder(with_pip=True).create(environment)
    python = environment / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site_packages / "_dependencies.pth").write_text(f"{_dependency_view(work / 'dependencies')}\n")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check", "-q", wheel],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return Installed(wheel=wheel, sdist=sdist, venv=environment, site_packages=site_packages)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty directory, far from this checkout."""
    directory = tmp_path / "downstream"
    directory.mkdir()
    return directory


def test_the_wheel_and_the_sdist_carry_the_scenarios_and_type_information(installed: Installed) -> None:
    scenario_files = {
        f"{p.parent.name}/{p.name}" for p in BUNDLED_FIXTURES.glob("*/*") if p.suffix in (".csv", ".yaml")
    }
    in_wheel = set(zipfile.ZipFile(installed.wheel).namelist())
    assert {f"sbir_etl/fixtures/{name}" for name in scenario_files} <= in_wheel
    assert {"sbir_etl/py.typed", "pytest_sbir_validate/py.typed", "sbir_etl/fixtures/README.md"} <= in_wheel
    assert "pytest_sbir_validate/smoke/test_bundled_scenarios.py" in in_wheel
    with tarfile.open(installed.sdist) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"fixtures/{name}" for name in scenario_files} <= in_sdist


def test_the_environment_imports_the_plugin_and_the_core_from_the_wheel(installed: Installed, project: Path) -> None:
    probe = (
        "import json, pytest_sbir_validate, sbir_etl, sbir_etl.bundled as b;"
        "print(json.dumps([pytest_sbir_validate.__file__, sbir_etl.__file__, str(b.BUNDLED_FIXTURES), str(b.SMOKE_TESTS)]))"
    )
    done = installed.run([installed.bin("python"), "-c", probe], project)
    assert done.returncode == 0, done.stderr
    for location in json.loads(done.stdout):
        assert Path(location).is_relative_to(installed.site_packages), location


def test_demo_runs_in_an_empty_directory(installed: Installed, project: Path) -> None:
    done = installed.run([installed.bin("sbir-etl"), "demo"], project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "out" / "demo" / "enriched_sbir_awards.parquet").is_file()
    assert "quality report:" in done.stdout


def test_checklist_is_ready_in_an_empty_directory(installed: Installed, project: Path) -> None:
    done = installed.run([installed.bin("sbir-etl"), "checklist"], project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(SCENARIOS)} passed" in done.stdout  # the bundled smoke suite: one test per scenario
    assert "READY: every critical item passed" in done.stdout


DOWNSTREAM_TESTS = """
import pytest
from pytest_sbir_validate.scenarios import bundled_scenario


def test_scenario(enrichment_scenario, check_scenario):
    check_scenario(enrichment_scenario)


def test_bundled_scenario_by_name():
    assert bundled_scenario("good-real").expected.rows == {"in": 235, "out": 235, "rejected": 0}


@pytest.mark.time_budget("30s")
@pytest.mark.memory_budget("512 MiB")
def test_within_budget():
    assert sum(range(100_000)) == 4_999_950_000
"""


def test_a_downstream_suite_runs_every_bundled_scenario_and_a_budget(installed: Installed, project: Path) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_pipeline.py").write_text(DOWNSTREAM_TESTS)
    done = installed.run(
        [installed.bin("python"), "-m", "pytest", "tests", "--strict-markers", "--junit-xml=junit.xml"], project
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(SCENARIOS) >= 12
    cases = {case.get("name"): case for case in ET.parse(project / "junit.xml").iter("testcase")}
    assert {name for name in cases if name.startswith("test_scenario[")} == {f"test_scenario[{s}]" for s in SCENARIOS}
    budget = {p.get("name"): p.get("value") for p in cases["test_within_budget"].iter("property")}
    assert budget["time_budget"] == '"30s"' and budget["memory_budget"] == '"512 MiB"'
    assert float(budget["time_budget_percent"]) < 100
    assert f"{len(SCENARIOS) + 2} passed" in done.stdout


FAKE_CLOCK = """
import os

_now = [0.0]


def now():
    return _now[0]


def match():
    # one benchmarked call "takes" 50 ms of fake time, times $SLOWDOWN: no wall clock, no flakes
    _now[0] += 0.05 * float(os.environ.get("SLOWDOWN", "1"))
"""
BENCHMARK = """
import fakeclock


def test_matching_speed(benchmark):
    benchmark.pedantic(fakeclock.match, rounds=5, iterations=1)
"""
COMPARE = ["--benchmark-compare", "--benchmark-compare-fail=median:25%", "--benchmark-timer=fakeclock.now"]


def test_benchmark_compare_cold_then_warm_then_a_3x_regression(installed: Installed, project: Path) -> None:
    (project / "fakeclock.py").write_text(FAKE_CLOCK)
    (project / "test_bench.py").write_text(BENCHMARK)
    pytest_ = [installed.bin("python"), "-m", "pytest", "test_bench.py", *COMPARE]

    cold = installed.run([*pytest_, "--junit-xml=cold.xml"], project)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert "(cold cache): this run was saved as the baseline" in cold.stdout
    [saved] = list((project / ".benchmarks").rglob("*.json"))

    warm = installed.run([*pytest_, "--junit-xml=warm.xml"], project)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "cold cache" not in warm.stdout

    slow = installed.run([*pytest_, "--junit-xml=slow.xml"], project, SLOWDOWN="3")
    assert slow.returncode == 1, slow.stdout + slow.stderr
    [case] = list(ET.parse(project / "slow.xml").iter("testcase"))
    failure = case.find("failure")
    assert case.get("name") == "test_matching_speed" and failure is not None
    message = failure.get("message", "")
    assert message == f"median 150 ms vs 50 ms saved in {saved.stem}: +200 %, fail at +25 %", message
