"""The ingest pipeline and command: idempotent, replaces changed articles, never mixes models."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from ingest.cli import main as ingest_main
from ingest.pipeline import ingest_paths
from qa.errors import IndexMismatchError
from qa.index.store import IndexSpec, open_store, spec_for
from qa.settings import Settings
from tests.conftest import NOS_ARTICLE, SAMPLE_DIR, BuiltIndex


def _ingest(paths, store, emb, settings, **kw):  # type: ignore[no-untyped-def]
    return ingest_paths(
        [Path(p) for p in paths], store=store, embeddings=emb, settings=settings, **kw
    )


def test_sample_corpus_is_ingested_once_and_then_unchanged(store, fake_embeddings, settings):  # type: ignore[no-untyped-def]
    first = _ingest([SAMPLE_DIR], store, fake_embeddings, settings)
    assert (first.added, first.skipped) == (61, [])
    second = _ingest([SAMPLE_DIR], store, fake_embeddings, settings)
    assert (second.added, second.updated, second.unchanged) == (0, 0, 61)
    assert second.chunks == first.chunks == store.count() == store.lexical.count()


def test_changed_article_replaces_its_old_chunks(store, fake_embeddings, settings, tmp_path):  # type: ignore[no-untyped-def]
    f = tmp_path / "a.txt"
    f.write_text("De brug in Voorbeeldstad is open. " * 30)
    _ingest([f], store, fake_embeddings, settings)
    f.write_text("De tunnel in Voorbeeldstad is dicht.")
    summary = _ingest([f], store, fake_embeddings, settings)
    assert summary.updated == 1
    assert store.count() == 1
    [hit] = store.get_hits([store.lexical_search(["tunnel"], 5)[0][0]])
    assert "tunnel" in hit.text
    assert store.lexical_search(["brug"], 5) == []


def test_same_text_under_two_names_is_indexed_once(store, fake_embeddings, settings, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text("Een bericht over Voorbeeldstad.")
    (tmp_path / "b.txt").write_text("Een bericht over Voorbeeldstad.")
    summary = _ingest([tmp_path], store, fake_embeddings, settings)
    assert summary.added == 1
    assert "zelfde tekst" in summary.skipped[0].reason


def test_prune_drops_articles_whose_files_are_gone(store, fake_embeddings, settings, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text("Eerste bericht.")
    (tmp_path / "b.txt").write_text("Tweede bericht.")
    _ingest([tmp_path], store, fake_embeddings, settings)
    (tmp_path / "b.txt").unlink()
    summary = _ingest([tmp_path], store, fake_embeddings, settings, prune=True)
    assert summary.pruned == 1 and set(store.articles()) == {"a.txt"}


def test_bad_folder_ingests_the_good_and_names_the_bad(store, fake_embeddings, settings, tmp_path):  # type: ignore[no-untyped-def]
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (tmp_path / "windows.txt").write_bytes("Café De Zwaan in Oekraïne opent.".encode("cp1252"))
    (tmp_path / "mixed.jsonl").write_text(
        json.dumps({"id": "goed", "text": "Een goed bericht."}) + "\n{kapot\n"
    )
    summary = _ingest([tmp_path], store, fake_embeddings, settings)
    assert summary.added == 2
    reasons = {Path(s.path.split(":")[0]).name: s.reason for s in summary.skipped}
    assert reasons.keys() == {"empty.txt", "picture.txt", "mixed.jsonl"}
    assert "leeg" in reasons["empty.txt"] and "binair" in reasons["picture.txt"]
    assert any(s.path.endswith("mixed.jsonl:regel 2") for s in summary.skipped)
    assert any("cp1252" in n.reason for n in summary.notes)


def test_index_records_its_spec_and_refuses_another_model(settings, fake_embeddings):  # type: ignore[no-untyped-def]
    open_store(settings, spec_for(settings, fake_embeddings), for_writing=True)
    other = IndexSpec("some/other-model", 768, settings.chunk_tokens, 1)
    with pytest.raises(IndexMismatchError) as err:
        open_store(settings, other, for_writing=True)
    message = str(err.value)
    assert "some/other-model" in message and "fake-bag-of-words" in message and "--reset" in message


def test_reset_rebuilds(settings, fake_embeddings, store):  # type: ignore[no-untyped-def]
    _ingest([NOS_ARTICLE], store, fake_embeddings, settings)
    assert store.count() > 0
    other = IndexSpec("some/other-model", 256, settings.chunk_tokens, 1)
    fresh = open_store(settings, other, for_writing=True, reset=True)
    assert fresh.count() == 0 and fresh.lexical.count() == 0


def test_chunks_carry_offsets_into_the_article(store, fake_embeddings, settings):  # type: ignore[no-untyped-def]
    from ingest.readers import read_file

    _ingest([NOS_ARTICLE], store, fake_embeddings, settings)
    [article] = read_file(NOS_ARTICLE, article_id="x", max_bytes=10**7)
    hits = store.get_hits([cid for cid, _ in store.lexical_search(["limousine"], 3)])
    for hit in hits:
        assert article.text[hit.start : hit.start + len(hit.text)] == hit.text
        for s, e, sentence in hit.sentence_texts():
            assert article.text[s:e] == sentence


def test_cli_without_paths_explains(capsys) -> None:  # type: ignore[no-untyped-def]
    assert ingest_main([]) == 2
    assert "bestand" in capsys.readouterr().err


# --- the real command, real model -------------------------------------------------------------


@pytest.mark.integration
def test_cli_ingests_the_sample_corpus_then_reports_it_unchanged(
    real_sample_build: BuiltIndex, real_index_copy: Path
) -> None:
    first = real_sample_build.summary
    assert (first["added"], first["skipped"]) == (61, [])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert ingest_main([str(SAMPLE_DIR), "--index", str(real_index_copy), "--json", "-q"]) == 0
    again = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (again["added"], again["unchanged"], again["chunks"]) == (0, 61, first["chunks"])


@pytest.mark.integration
def test_cli_exits_non_zero_when_the_index_is_of_another_model(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(index_dir=tmp_path)
    open_store(settings, IndexSpec("other", 3, 160, 1), for_writing=True)
    assert ingest_main([str(NOS_ARTICLE), "--index", str(tmp_path), "-q"]) == 1  # unusable index
    assert "--reset" in capsys.readouterr().err
