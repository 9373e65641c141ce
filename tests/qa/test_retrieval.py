"""Hybrid retrieval over the sample corpus with the fake embedder."""

from __future__ import annotations

import pytest

from qa.index.retrieval import Filters, HybridRetriever, diversify
from qa.types import Hit


def test_the_nos_article_comes_first_for_the_putin_question(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    hits = sample_pipeline.retriever.retrieve("Wat gaf Poetin aan Kim?", k=5)
    assert hits[0].article_id == "nos-poetin-kim-2024-06.txt"
    assert any("limousine" in h.text for h in hits)


def test_lexical_side_finds_words_with_other_diacritics_and_forms(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    # "Oekraine" without the trema, and "gegeven" for "gaf": both sides analyse alike.
    ids = [cid for cid, _ in sample_pipeline.store.lexical_search(["oekraine"], 5)]
    assert ids
    hits = sample_pipeline.store.get_hits(ids)
    assert all("Oekraïne" in h.text for h in hits)


def test_one_article_cannot_crowd_out_the_others(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    hits = sample_pipeline.retriever.retrieve("Poetin Noord-Korea Rusland Kim", k=6)
    per_article: dict[str, int] = {}
    for h in hits:
        per_article[h.article_id] = per_article.get(h.article_id, 0) + 1
    assert max(per_article.values()) <= sample_pipeline.settings.per_article
    assert len(per_article) > 1


def test_filters_by_source_and_date(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    only_nos = Filters(sources=("NOS Nieuws",))
    hits = sample_pipeline.retriever.retrieve("Wie won de wedstrijd?", k=5, filters=only_nos)
    assert hits and {h.source for h in hits} == {"NOS Nieuws"}
    recent = Filters(date_from="2024-01-01", date_to="2024-12-31")
    hits = sample_pipeline.retriever.retrieve("oorlog", k=5, filters=recent)
    assert hits and {h.article_id for h in hits} == {"nos-poetin-kim-2024-06.txt"}
    none = Filters(date_from="2030-01-01")
    assert sample_pipeline.retriever.retrieve("oorlog", k=5, filters=none) == []


def test_bad_arguments_quote_the_value(sample_pipeline) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="got -3"):
        sample_pipeline.retriever.retrieve("x", k=-3)
    with pytest.raises(ValueError, match="got 0"):
        HybridRetriever(sample_pipeline.store, sample_pipeline.embeddings, candidates=0)


def test_diversify_keeps_rank_order() -> None:
    hits = [Hit(f"c{i}", "a" if i < 4 else "b", "t", 0, ()) for i in range(6)]
    out = diversify(hits, 4, 2)
    assert [h.chunk_id for h in out] == ["c0", "c1", "c4", "c5"]
