"""The benchmark's pure parts, and one quick run end to end with a fake embedder.

No timing is asserted here: timings belong to the benchmark itself (``python -m qa bench``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document

from qa.measure import bench
from qa.measure.evaluate import Question, judge
from qa.settings import Settings
from qa.text import words
from qa.types import Article
from tests.conftest import NOS_ARTICLE, BagOfWordsEmbeddings, OverlapReader


class FakeSentenceEmbeddings(BagOfWordsEmbeddings):
    """The bag-of-words fake with the extras the benchmark reads from our SentenceEmbeddings."""

    backend = "fake"
    batch_size = 16

    def encode(self, texts: list[str], *, query: bool) -> np.ndarray:
        return np.asarray([self._vector(t) for t in texts], dtype=np.float32)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(words(t)) + 1 for t in texts]


# --- percentiles ---------------------------------------------------------------------------------


def test_latency_summary_interpolates_like_numpy() -> None:
    ms = [float(x) for x in range(1, 101)]
    summary = bench.latency_summary(ms)
    assert summary == {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
    }


@pytest.mark.parametrize(("values", "p50"), [([], None), ([7.0], 7.0), ([3.0, 1.0], 2.0)])
def test_latency_summary_small_inputs(values: list[float], p50: float | None) -> None:
    assert bench.latency_summary(values)["p50_ms"] == p50


def test_ratio_guards_missing_and_zero() -> None:
    assert bench.ratio(0.9, 0.3) == 3.0
    assert bench.ratio(None, 0.3) is None
    assert bench.ratio(0.5, 0.0) is None


# --- synthetic articles --------------------------------------------------------------------------


def _pool() -> tuple[list[str], list[int]]:
    pool = [f"Zin nummer {i} gaat over onderwerp {i % 7} en nog wat woorden." for i in range(60)]
    return pool, [len(words(s)) for s in pool]


def test_synthetic_articles_say_they_are_synthetic_and_use_only_real_sentences() -> None:
    pool, counts = _pool()
    made = bench.synthetic_articles(pool, counts, n_chunks=25, budget=40, seed=1,
                                    sentences=(5, 20))  # fmt: skip
    assert sum(len(s.chunks) for s in made) == 25
    for s in made:
        assert s.article.id.startswith("synthetic-")
        assert s.article.title.startswith("Synthetisch artikel")
        assert s.article.source == bench.SYNTHETIC_SOURCE
        for chunk, ids in zip(s.chunks, s.sentence_ids, strict=True):
            sentences = [s.article.text[a:b] for a, b in chunk.sentences]
            assert sentences == [pool[i] for i in ids]  # every sentence is a pool sentence
            assert chunk.text == s.article.text[chunk.start : chunk.end]
            assert sum(counts[i] for i in ids) <= 40


def test_synthetic_chunks_overlap_by_one_sentence_and_ids_do_not_repeat() -> None:
    pool, counts = _pool()
    first = bench.synthetic_articles(pool, counts, n_chunks=10, budget=30, seed=2)
    later = bench.synthetic_articles(pool, counts, n_chunks=10, budget=30, seed=3,
                                     first=len(first))  # fmt: skip
    ids = [c.id for s in first + later for c in s.chunks]
    assert len(ids) == len(set(ids))
    for s in first:
        for a, b in zip(s.sentence_ids, s.sentence_ids[1:], strict=False):
            assert a[-1] == b[0]


def test_synthetic_articles_refuse_a_budget_nothing_fits() -> None:
    with pytest.raises(ValueError, match="no sentence fits"):
        bench.synthetic_articles(["een twee drie vier"], [4], n_chunks=1, budget=3)


def test_sentence_pool_holds_real_distinct_sentences() -> None:
    text = "Kim kreeg een auto van Poetin. Kim kreeg een auto van Poetin. Kort. Dat was in juni."
    pool = bench.sentence_pool([Article(id="a", text=text)])
    assert pool == ["Kim kreeg een auto van Poetin.", "Dat was in juni."]


def test_chunk_vectors_are_normalised_means_of_sentence_vectors() -> None:
    pool, counts = _pool()
    made = bench.synthetic_articles(pool, counts, n_chunks=3, budget=30, seed=4)
    rng = np.random.default_rng(0)
    sentence_vectors = rng.normal(size=(len(pool), 8)).astype(np.float32)
    vectors = bench.chunk_vectors(sentence_vectors, made[0])
    expected = sentence_vectors[list(made[0].sentence_ids[0])].mean(axis=0)
    np.testing.assert_allclose(vectors[0], expected / np.linalg.norm(expected), rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


# --- the baseline --------------------------------------------------------------------------------


def _doc(article_id: str, text: str) -> Document:
    return Document(page_content=text, metadata={"article_id": article_id})


def test_baseline_answers_with_the_top_chunk_and_cites_its_article() -> None:
    q = Question(q="Wat gaf Poetin aan Kim?", doc="nos.txt", any=("limousine",))
    docs = [
        _doc("nos.txt", "Poetin gaf Kim een limousine."),
        _doc("x", "Iets"),
        _doc("nos.txt", ""),
    ]
    record = bench.baseline_record(q, docs, 12.0)
    assert record.answer == "Poetin gaf Kim een limousine."
    assert record.cited == ("nos.txt",)
    assert record.retrieved == ("nos.txt", "x")
    assert not record.refused
    assert judge(record).ok


def test_baseline_top_chunk_of_1000_characters_is_too_long_to_count() -> None:
    q = Question(q="Wat gaf Poetin aan Kim?", doc="nos.txt", any=("limousine",))
    long_chunk = "Poetin gaf Kim een limousine. " + "Meer tekst over het bezoek. " * 40
    verdict = judge(bench.baseline_record(q, [_doc("nos.txt", long_chunk)], 1.0))
    assert verdict.failure == "too_long"


def test_baseline_never_refuses_unless_nothing_was_found() -> None:
    q = Question(q="Hoeveel kostte de limousine?", refuse=True)
    assert not bench.baseline_record(q, [_doc("a", "tekst")], 1.0).refused
    assert bench.baseline_record(q, [], 1.0).refused


def test_baseline_documents_follow_the_tutorial_splitter() -> None:
    article = Article(id="a", title="Titel", text=" ".join(["Een zin met woorden."] * 200))
    docs = bench.baseline_documents([article])
    assert len(docs) > 3
    assert all(len(d.page_content) <= bench.BASELINE_CHUNK_CHARS for d in docs)
    assert {d.metadata["article_id"] for d in docs} == {"a"}
    assert docs[0].page_content.startswith("Titel")


# --- one quick run, end to end, with the fake embedder ------------------------------------------

REQUIRED = {
    "chunks", "ingest_chunks_per_s", "embed_chunks_per_s", "retrieve_p50_ms", "retrieve_p95_ms",
    "answer_p50_ms", "answer_p95_ms", "peak_rss_mb",
}  # fmt: skip


def test_quick_run_prints_every_required_field_as_the_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        '{"q": "Wat gaf Poetin aan Kim?", "doc": "nos-poetin-kim-2024-06.txt", '
        '"all": ["limousine"]}\n'
        '{"q": "Hoeveel kostte de limousine?", "doc": null, "refuse": true}\n',
        encoding="utf-8",
    )
    fake = FakeSentenceEmbeddings()
    monkeypatch.setattr(bench, "QUESTIONS", questions)
    monkeypatch.setattr("qa.index.embeddings.load_embeddings", lambda settings, **kw: fake)
    monkeypatch.setenv("VRAAGBAAK_MODEL_CACHE", str(tmp_path / "cache"))
    sample = tmp_path / "articles"  # one real article keeps this test fast
    sample.mkdir()
    shutil.copy(NOS_ARTICLE, sample / NOS_ARTICLE.name)
    monkeypatch.setenv("VRAAGBAAK_SAMPLE_DIR", str(sample))

    def in_process(index_dir: Path, questions_path: Path, **_: Any) -> dict[str, Any]:
        # the real run measures in a fresh process; here the same function runs in this one
        from qa.index.store import open_store, spec_for
        from qa.measure.evaluate import load_questions
        from qa.pipeline import Pipeline

        s = Settings(index_dir=index_dir, model_cache=tmp_path / "cache")
        store = open_store(s, spec_for(s, fake))
        return bench.measure_queries(
            Pipeline(s, fake, store, reader=OverlapReader()), load_questions(questions_path)
        )

    monkeypatch.setattr(bench, "measure_in_fresh_process", in_process)
    out = tmp_path / "out"

    assert bench.run_bench(quick=True, as_json=True, out=out) == 0

    printed = capsys.readouterr().out.strip().splitlines()
    result = json.loads(printed[-1])
    assert result == json.loads((out / "bench.json").read_text())
    assert set(result) >= REQUIRED
    assert result["chunks"] > 0 and result["mode"] == "quick"
    assert result["eval"]["questions"] == 2
    base = result["baseline"]
    assert {"hit_at_1", "hit_at_4", "answer_accuracy", "chunks"} <= set(base)
    assert "hit_at_5" not in base  # it retrieves 4 chunks; the report says hit@4
    assert set(result["ratios_ours_to_baseline"]) >= {"hit_at_1", "answer_accuracy"}
    assert [s["size"] for s in result["sizes"]] == ["sample"]
    report = "\n".join(printed[:-1])
    assert "RecursiveCharacterTextSplitter 1000/200" in report
    assert "hit@4" in report


def test_plot_is_written(tmp_path: Path) -> None:
    rows = [
        {"chunks": n, "retrieve_p50_ms": 5.0 * i, "retrieve_p95_ms": 9.0 * i,
         "answer_p50_ms": 50.0 * i, "answer_p95_ms": 90.0 * i}
        for i, n in enumerate((800, 10_000, 100_000), start=1)
    ]  # fmt: skip
    path = tmp_path / "plot.png"
    bench.plot_latency(rows, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
