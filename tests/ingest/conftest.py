"""Fixtures for the ingest tests: the local news site, no traffic beyond 127.0.0.1, and the
ingest command run in this process with the fake embedder."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.cli import main
from tests.conftest import BagOfWordsEmbeddings
from tests.ingest.newsite import NewsSite, only_localhost, standard_site

CliResult = tuple[int, dict[str, Any], str]  # exit code, the JSON on stdout's last line, stderr
Cli = Callable[..., CliResult]


@pytest.fixture
def _only_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    only_localhost(monkeypatch)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite() as s:
        standard_site(s)
        yield s


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path
) -> Cli:
    """``main`` with the fake embedder and a private model cache.

    ``cli(capsys, *argv, clock=...)`` returns (exit code, the JSON object on stdout's last line
    or {} when there is none, stderr).
    """
    monkeypatch.setattr("qa.index.embeddings.load_embeddings", lambda settings: fake_embeddings)
    monkeypatch.setenv("VRAAGBAAK_MODEL_CACHE", str(tmp_path / "cache"))

    def call(
        capsys: pytest.CaptureFixture[str], *argv: str, clock: Callable[[], float] = time.time
    ) -> CliResult:
        code = main(list(argv), clock=clock)
        out, err = capsys.readouterr()
        lines = out.strip().splitlines()
        last = lines[-1] if lines else ""
        return code, json.loads(last) if last.startswith("{") else {}, err

    return call
