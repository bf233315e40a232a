"""Alerts against a local HTTP server on 127.0.0.1: delivered, refused, down and silent."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from sbir_etl.monitoring.alerts import (
    FailedGate,
    build_payload,
    redact_url,
    send_alert,
    webhook_url,
)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """urllib honours *_proxy variables; keep every request of these tests on 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


class Webhook(HTTPServer):
    """A webhook on 127.0.0.1 that records the JSON bodies it receives."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.received: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/secret"


class _Handler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        length = int(self.headers["Content-Length"])
        self.server.received.append(json.loads(self.rfile.read(length)))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def webhook(request) -> Iterator[Webhook]:
    server = Webhook(status=getattr(request, "param", 200))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


FAILURES = [
    FailedGate("tests/test_enrich.py::test_big", ("time regression: 1.92 s vs baseline 1.41 s",)),
]


def test_payload_is_slack_compatible() -> None:
    payload = build_payload(FAILURES, run_label="main@abc1234", warnings=2)
    assert payload["text"].startswith(":rotating_light: 1 regression gate failure in main@abc1234")
    assert "(2 more warnings)" in payload["text"]
    header, section = payload["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert section["text"]["type"] == "mrkdwn"
    assert "`tests/test_enrich.py::test_big`: time regression" in section["text"]["text"]


def test_long_payloads_stay_under_slacks_block_limit() -> None:
    many = [FailedGate(f"tests/t.py::test_{i}", ("x" * 100,)) for i in range(100)]
    section = build_payload(many, run_label="r")["blocks"][1]["text"]["text"]
    assert len(section) <= 3000 and section.endswith("(truncated)")


def test_alert_is_delivered(webhook: Webhook) -> None:
    payload = build_payload(FAILURES, run_label="main@abc1234")
    result = send_alert(webhook.url, payload)
    assert result.ok and result.status == 200
    assert webhook.received == [payload]
    assert result.describe() == (
        f"regression alert delivered to http://127.0.0.1:{webhook.server_address[1]}/… (HTTP 200)"
    )


@pytest.mark.parametrize("webhook", [500], indirect=True)
def test_http_error_is_reported_not_raised(webhook: Webhook) -> None:
    result = send_alert(webhook.url, {"text": "x"})
    assert not result.ok and result.error == "HTTP 500 Internal Server Error"
    assert "secret" not in result.describe()


def test_server_down_is_reported_not_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = send_alert(f"http://127.0.0.1:{port}/hook", {"text": "x"})
    assert not result.ok and result.error.startswith("cannot connect")


def test_silent_server_times_out_instead_of_hanging() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        result = send_alert(f"http://127.0.0.1:{port}/hook", {"text": "x"}, timeout_s=0.2)
    assert not result.ok and result.error == "no answer within 0.2 s"


def test_non_http_url_is_refused_without_traffic() -> None:
    result = send_alert("file:///etc/passwd", {"text": "x"})
    assert not result.ok and "https://" in result.error


def test_environment_wins_over_ini() -> None:
    assert webhook_url("http://127.0.0.1/ini", {"SBIR_ALERT_WEBHOOK": "http://127.0.0.1/env"}) == (
        "http://127.0.0.1/env"
    )
    assert webhook_url("http://127.0.0.1/ini", {}) == "http://127.0.0.1/ini"
    assert webhook_url("  ", {}) is None


def test_redacted_url_keeps_only_scheme_and_host() -> None:
    assert redact_url("https://user:pw@hooks.example.com/T/B/secret") == "https://hooks.example.com/…"
