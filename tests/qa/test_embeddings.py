"""Loading embedding models: hub models fail fast and clearly when they cannot be had."""

from __future__ import annotations

import time

import pytest

from qa.errors import ModelUnavailableError
from qa.index.embeddings import load_embeddings, prefixes_for
from qa.settings import Settings


def test_an_uncached_hub_model_fails_within_seconds_offline(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import sentence_transformers  # noqa: F401 - import time is not what is measured

    started = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="HF_HUB_OFFLINE"):
        load_embeddings(Settings(embedding_model="BAAI/bge-m3", model_cache=tmp_path))
    assert time.monotonic() - started < 30  # the hub's own retries take ~70 s


def test_an_unreachable_hub_fails_within_seconds_online(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    import sentence_transformers  # noqa: F401 - import time is not what is measured

    started = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="niet bereikbaar"):
        load_embeddings(Settings(embedding_model="BAAI/bge-m3", model_cache=tmp_path))
    assert time.monotonic() - started < 30  # the hub's own retries take ~70 s


def test_a_local_folder_that_is_not_a_model_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelUnavailableError):
        load_embeddings(Settings(embedding_model=str(tmp_path), model_cache=tmp_path))


def test_e5_models_get_their_prefixes() -> None:
    assert prefixes_for("intfloat/multilingual-e5-base") == ("query: ", "passage: ")
    assert prefixes_for("BAAI/bge-m3") == ("", "")
