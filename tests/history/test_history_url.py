"""Store locations: which backend a path or URL selects, and that passwords never reach a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbir_etl.monitoring.history import HistoryError, StoreURL
from sbir_etl.monitoring.history_url import redact, scrub


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("history.sqlite", Path("history.sqlite")),
        (".sbir/history.sqlite", Path(".sbir/history.sqlite")),
        ("/abs/history.sqlite", Path("/abs/history.sqlite")),
        (Path("/abs/h.sqlite"), Path("/abs/h.sqlite")),
        ("sqlite:///rel/history.sqlite", Path("rel/history.sqlite")),  # SQLAlchemy's spelling: 3 slashes, relative
        ("sqlite:////abs/history.sqlite", Path("/abs/history.sqlite")),  # 4 slashes: absolute
        ("sqlite:///with%20space.sqlite", Path("with space.sqlite")),
        ("SQLITE:///upper.sqlite", Path("upper.sqlite")),
    ],
)
def test_paths_and_sqlite_urls_select_the_sqlite_store(given: str | Path, path: Path) -> None:
    assert StoreURL.parse(given) == StoreURL(path=path)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg", "PostgreSQL"])
def test_postgres_urls_select_the_postgres_store_in_libpq_spelling(scheme: str) -> None:
    location = StoreURL.parse(f"{scheme}://ci:pw@db.example.org:5433/sbir?sslmode=require")
    assert location == StoreURL(url="postgresql://ci:pw@db.example.org:5433/sbir?sslmode=require")
    assert location.path is None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://u:hunter2@h/db", "unsupported metrics store URL mysql://u:***@h/db: use a file path, sqlite:///PATH"),
        ("sqlite://history.sqlite", "a sqlite URL has three slashes and a path"),
        ("sqlite:///", "a sqlite URL has three slashes and a path"),
        ("  ", "the metrics store location is empty"),
    ],
)
def test_unusable_locations_are_explained(given: str, message: str) -> None:
    with pytest.raises(HistoryError) as caught:
        StoreURL.parse(given)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ci:s3cret@db:5432/sbir", "postgresql://ci:***@db:5432/sbir"),
        ("postgresql://ci@db/sbir", "postgresql://ci@db/sbir"),
        ("postgresql://db/sbir", "postgresql://db/sbir"),
        ("postgresql://ci:p%40ss%2Fw@db/sbir", "postgresql://ci:***@db/sbir"),
        ("postgresql://ci:s3cret@h1:5432,h2:5432/sbir", "postgresql://ci:***@h1:5432,h2:5432/sbir"),
        (
            "postgresql://db/sbir?user=ci&password=s3cret&sslmode=require",
            "postgresql://db/sbir?user=ci&password=***&sslmode=require",
        ),
        ("postgresql://ci:s3cret@db?password=other", "postgresql://ci:***@db?password=***"),
        (
            "postgresql://db/sbir?sslpassword=s3cret&sslmode=require",
            "postgresql://db/sbir?sslpassword=***&sslmode=require",
        ),
    ],
)
def test_redact_hides_passwords_and_keeps_the_rest(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert str(StoreURL.parse(url)) == shown  # what every message prints


@pytest.mark.parametrize(
    "given", ["host=db user=u password=hunter2", "  dbname = sbir password='hunter2'", "password=hunter2"]
)
def test_a_libpq_key_value_string_is_refused_naming_the_url_form_without_its_password(given: str) -> None:
    """Not a SQLite file called "host=db user=u password=hunter2" (whose name every message would print)."""
    with pytest.raises(HistoryError) as caught:
        StoreURL.parse(given)
    message = str(caught.value)
    assert "key=value" in message and "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in message
    assert "hunter2" not in message


def test_redact_hides_passwords_of_a_key_value_string_too() -> None:
    """What a progress line prints of a location it has not parsed yet."""
    assert redact("host=db password=hunter2 sslpassword='a b' user=u") == "host=db password=*** sslpassword=*** user=u"


def test_a_path_is_shown_as_it_is() -> None:
    assert redact("perf/history.sqlite") == "perf/history.sqlite"
    assert str(StoreURL.parse("perf/history.sqlite")) == "perf/history.sqlite"


def test_scrub_removes_a_password_a_driver_echoes_in_any_form() -> None:
    url = "postgresql://ci:p%40ss@db/sbir?password=q2&sslpassword=k3y"
    message = f"failed for {url}: password p@ss (p%40ss) or q2 rejected, key k3y"
    cleaned = scrub(message, url)
    assert cleaned == (
        "failed for postgresql://ci:***@db/sbir?password=***&sslpassword=***: password *** (***) or *** rejected, key ***"
    )
