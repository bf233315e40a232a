"""Where a metrics store lives: a file path, ``sqlite:///PATH`` or ``postgresql://USER@HOST/DB``.

Every place that opens a store (``pytest --sbir-history``, ``sbir-etl report --history``,
``sbir-etl checklist --history``) takes the same text and hands it to :meth:`StoreURL.parse`.
``str()`` of a :class:`StoreURL` is safe to print: a password in the URL, whether in the user
part or as a parameter whose name ends in ``password`` (``password=``, ``sslpassword=``), is
replaced by ``***``. A libpq ``key=value`` connection string is refused (it would otherwise be
taken for a file name, and printed): the store takes the URL form.

``sqlite:///`` URLs follow SQLAlchemy's spelling, which many users know: ``sqlite:///rel.sqlite``
is relative, ``sqlite:////abs/history.sqlite`` absolute.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode

from sbir_etl.monitoring.history_backend import HistoryLocationError

BackendName = Literal["sqlite", "postgresql"]

#: ``scheme://`` at the start of a URL (a Windows path such as ``C:\x`` has no ``//``).
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")

#: The start of a libpq ``key=value`` connection string (``host=db user=ci password=...``).
_KEY_VALUE = re.compile(r"^\s*\w+\s*=")

#: A password of a ``key=value`` string, quoted or not (what :func:`redact` hides there).
_KEY_VALUE_PASSWORD = re.compile(r"\b(?P<key>\w*password)\s*=\s*(?:'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)

#: URL schemes and the backend each selects; ``postgresql+psycopg`` is SQLAlchemy's spelling.
SCHEMES: dict[str, BackendName] = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+psycopg": "postgresql",
}

REDACTED = "***"


@dataclass(frozen=True)
class StoreURL:
    """A parsed store location: one of ``path``, the SQLite file, or ``url``, the PostgreSQL
    (libpq) connection URL, password included: hand it to the driver, never print it.
    """

    path: Path | None = None
    url: str | None = None

    @classmethod
    def parse(cls, location: str | os.PathLike[str] | StoreURL) -> StoreURL:
        """Read a path or URL; raises :class:`HistoryError` naming the supported forms."""
        if isinstance(location, StoreURL):
            return location
        if not isinstance(location, str):
            return cls(path=Path(location))
        text = location.strip()
        if not text:
            raise HistoryLocationError("the metrics store location is empty; give a file path or a postgresql:// URL")
        match = _SCHEME.match(text)
        if match is None:
            if _KEY_VALUE.match(text):  # not echoed: it may hold a password
                raise HistoryLocationError(
                    "the metrics store location is a key=value connection string; give it as a URL: "
                    "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (other settings as parameters, "
                    "e.g. ?sslmode=require), or a file path for a SQLite store"
                )
            return cls(path=Path(text).expanduser())
        scheme = match["scheme"].lower()
        backend = SCHEMES.get(scheme)
        if backend is None:
            raise HistoryLocationError(
                f"unsupported metrics store URL {redact(text)}: use a file path, sqlite:///PATH "
                f"or postgresql://USER:PASSWORD@HOST:PORT/DATABASE (not {scheme}://)"
            )
        if backend == "sqlite":
            return cls(path=_sqlite_path(text))
        return cls(url="postgresql://" + text[match.end() :])

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else redact(self.url or "")


def _sqlite_path(text: str) -> Path:
    rest = text[len("sqlite://") :]
    if not rest.startswith("/") or len(rest) == 1:
        raise HistoryLocationError(
            f"{text}: a sqlite URL has three slashes and a path: sqlite:///relative.sqlite or "
            "sqlite:////absolute/path.sqlite"
        )
    return Path(unquote(rest[1:].partition("?")[0])).expanduser()


def redact(url: str) -> str:
    """``url`` with its passwords (the user part's, every parameter whose name ends in
    ``password``) replaced by ``***``; in a ``key=value`` string, the values of those keys."""
    parts = _url_parts(url)
    if parts is None:
        return _KEY_VALUE_PASSWORD.sub(lambda m: f"{m['key']}={REDACTED}", url)
    head, userinfo, hosts, path, query = parts
    if userinfo is not None and ":" in userinfo:
        userinfo = f"{userinfo.partition(':')[0]}:{REDACTED}"
    if query is not None:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_is_password(key) for key, _ in pairs):
            query = urlencode(
                [(key, REDACTED if _is_password(key) else value) for key, value in pairs], safe="*", quote_via=quote
            )
    user = "" if userinfo is None else f"{userinfo}@"
    return f"{head}{user}{hosts}{path}" + ("" if query is None else f"?{query}")


def scrub(message: str, url: str | None) -> str:
    """``message`` with every password of ``url`` replaced by ``***`` (drivers may echo the URL)."""
    if url is None:
        return message
    message = message.replace(url, redact(url))
    for secret in sorted(_passwords(url), key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message


def _passwords(url: str) -> set[str]:
    """The passwords in ``url``, as written and decoded."""
    parts = _url_parts(url)
    if parts is None:
        return set()
    _, userinfo, _, _, query = parts
    found = [userinfo.partition(":")[2]] if userinfo is not None and ":" in userinfo else []
    found += [value for key, value in parse_qsl(query or "") if _is_password(key)]
    return {form for secret in found if secret for form in (secret, unquote(secret))}


def _is_password(key: str) -> bool:
    """``password``, ``sslpassword``: every libpq parameter holding a secret ends so."""
    return key.lower().endswith("password")


def _url_parts(url: str) -> tuple[str, str | None, str, str, str | None] | None:
    """``scheme://user:pw@host:port/db?x=1`` -> (``scheme://``, ``user:pw``, ``host:port``, ``/db``, ``x=1``).

    Split as libpq does: the user part ends at the first ``@`` before any ``/``.
    """
    match = _SCHEME.match(url)
    if match is None:
        return None
    rest = url[match.end() :]
    user = re.match(r"([^@/]*)@", rest)
    userinfo = None if user is None else user[1]
    rest = rest if user is None else rest[user.end() :]
    hosts_end = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0] or [len(rest)])
    hosts, rest = rest[:hosts_end], rest[hosts_end:]
    path, question, query = rest.partition("?")
    return url[: match.end()], userinfo, hosts, path, query if question else None


__all__ = ["REDACTED", "SCHEMES", "StoreURL", "redact", "scrub"]
