"""`dagster-webserver -m sbir_etl.dagster_defs` loads the definitions headless and lists the job.

Not marked `smoke` (it starts a server: ~5 s); it runs in the default suite. The server and its
code-server child run in their own process group, which the test ends whatever happens.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name jobs { name } } } } }"
STARTUP_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def job_names(port: int) -> list[str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        nodes = json.load(response)["data"]["repositoriesOrError"]["nodes"]
    return [job["name"] for node in nodes for job in node["jobs"]]


def test_webserver_loads_the_definitions_and_lists_sbir_etl_job(tmp_path: Path):
    webserver = Path(sys.executable).with_name("dagster-webserver")
    if not webserver.exists():
        pytest.skip("dagster-webserver is not installed (pip install -e '.[dev]')")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    log = (tmp_path / "webserver.log").open("w")
    server = subprocess.Popen(
        [str(webserver), "-m", "sbir_etl.dagster_defs", "-h", "127.0.0.1", "-p", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        names: list[str] = []
        while time.monotonic() < deadline and "sbir_etl_job" not in names:
            assert server.poll() is None, f"dagster-webserver exited early:\n{(tmp_path / 'webserver.log').read_text()}"
            try:
                names = job_names(port)
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                time.sleep(0.5)
        assert "sbir_etl_job" in names, (
            f"job not listed within {STARTUP_TIMEOUT_S} s; log:\n{(tmp_path / 'webserver.log').read_text()}"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
