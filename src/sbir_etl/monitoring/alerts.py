"""Alerts: tell a chat channel when regression gates fail.

The payload is Slack-compatible (``{"text": ..., "blocks": [...]}``; Mattermost, Rocket.Chat and
Teams' Slack-compatible connectors accept it too). Delivery is best effort: :func:`send_alert`
never raises for network problems and returns a :class:`DeliveryResult` saying what happened, so a
dead webhook can never fail or hang a test run — the caller reports the result instead.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The environment variable holding the webhook URL; it wins over the ini setting so a CI secret
#: can override a checked-in configuration.
WEBHOOK_ENV = "SBIR_ALERT_WEBHOOK"

#: Seconds to wait for the webhook before giving up.
DEFAULT_TIMEOUT_S = 3.0

#: Slack rejects a section block whose text exceeds 3000 characters.
_MAX_BLOCK_TEXT = 2900


@dataclass(frozen=True)
class FailedGate:
    """A test whose regression gates failed, and why (one message per failed gate)."""

    test_id: str
    messages: tuple[str, ...]


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one alert: ``ok`` with the HTTP status, or the reason it was not sent."""

    ok: bool
    url: str
    status: int | None = None
    error: str | None = None

    def describe(self) -> str:
        """One line for the terminal summary (the URL is shortened: it often embeds a secret)."""
        target = redact_url(self.url)
        if self.ok:
            return f"regression alert delivered to {target} (HTTP {self.status})"
        return f"regression alert NOT delivered to {target}: {self.error}"


def webhook_url(ini_value: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The configured webhook URL: ``$SBIR_ALERT_WEBHOOK``, else the ini value, else ``None``."""
    for candidate in (environ.get(WEBHOOK_ENV), ini_value):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def build_payload(
    failures: Sequence[FailedGate],
    *,
    run_label: str,
    warnings: int = 0,
) -> dict[str, Any]:
    """A Slack message listing the failed gates of one run.

    ``run_label`` identifies the run for the reader, e.g. ``"main@1a2b3c4 on linux-x86_64-2cpu"``.
    """
    title = (
        f":rotating_light: {len(failures)} regression gate failure{'s' if len(failures) != 1 else ''} in {run_label}"
    )
    if warnings:
        title += f" ({warnings} more warning{'s' if warnings != 1 else ''})"
    lines = [f"• `{failure.test_id}`: {'; '.join(failure.messages)}" for failure in failures]
    body = "\n".join(lines)
    if len(body) > _MAX_BLOCK_TEXT:
        body = body[: _MAX_BLOCK_TEXT - 20].rsplit("\n", 1)[0] + "\n… (truncated)"
    return {
        "text": title,  # shown in notifications and by clients that ignore blocks
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        ],
    }


def send_alert(url: str, payload: Mapping[str, Any], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> DeliveryResult:
    """POST ``payload`` as JSON to ``url``; never raises for delivery problems, never waits longer
    than about ``timeout_s`` per network operation."""
    if not url.startswith(("https://", "http://")):
        return DeliveryResult(ok=False, url=url, error="the webhook URL must start with https:// or http://")
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return DeliveryResult(ok=False, url=url, status=exc.code, error=f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return DeliveryResult(ok=False, url=url, error=f"no answer within {timeout_s:g} s")
        return DeliveryResult(ok=False, url=url, error=f"cannot connect: {reason}")
    except TimeoutError:
        return DeliveryResult(ok=False, url=url, error=f"no answer within {timeout_s:g} s")
    except OSError as exc:  # connection reset while reading, etc.
        return DeliveryResult(ok=False, url=url, error=f"delivery failed: {exc}")
    return DeliveryResult(ok=True, url=url, status=status)


def redact_url(url: str) -> str:
    """``url`` without its path: webhook paths are secrets (``https://hooks.slack.com/…``)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<invalid URL>"
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/…"


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DeliveryResult",
    "FailedGate",
    "WEBHOOK_ENV",
    "build_payload",
    "redact_url",
    "send_alert",
    "webhook_url",
]
