"""Fixtures for the web and feed tests: the local news site, and no traffic beyond 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ingest.newsite import NewsSite, only_localhost, standard_site


@pytest.fixture
def _only_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    only_localhost(monkeypatch)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite() as s:
        standard_site(s)
        yield s
