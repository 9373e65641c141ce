"""Chunking: whole sentences, token budget, overlap, exact offsets, deterministic ids."""

from __future__ import annotations

import pytest

from ingest.chunking import chunk_article
from qa.types import Article


def words_as_tokens(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


ARTICLE = Article(
    id="a1",
    title="Kop",
    text=" ".join(f"Dit is zin nummer {i} van het artikel." for i in range(40)),
)


def test_chunks_hold_whole_sentences_with_exact_offsets() -> None:
    chunks = chunk_article(ARTICLE, count_tokens=words_as_tokens, max_tokens=40, overlap=1)
    assert len(chunks) > 3
    for c in chunks:
        assert ARTICLE.text[c.start : c.end] == c.text
        assert c.text.endswith(".")
        for s, e in c.sentences:
            assert c.start <= s < e <= c.end
            assert ARTICLE.text[s:e].startswith("Dit is zin")
        assert sum(words_as_tokens([c.text])) <= 40


def test_overlap_repeats_one_sentence_and_covers_everything() -> None:
    chunks = chunk_article(ARTICLE, count_tokens=words_as_tokens, max_tokens=40, overlap=1)
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.sentences[-1] == b.sentences[0]
    covered = {s for c in chunks for s in c.sentences}
    assert len(covered) == 40


def test_ids_are_deterministic_and_unique() -> None:
    one = chunk_article(ARTICLE, count_tokens=words_as_tokens, max_tokens=40, overlap=1)
    two = chunk_article(ARTICLE, count_tokens=words_as_tokens, max_tokens=40, overlap=1)
    assert [c.id for c in one] == [c.id for c in two]
    assert len({c.id for c in one}) == len(one)


def test_a_sentence_longer_than_the_budget_is_cut_at_words() -> None:
    long = Article(id="l", title="", text=" ".join(["woord"] * 200) + ".")
    chunks = chunk_article(long, count_tokens=words_as_tokens, max_tokens=50, overlap=0)
    assert len(chunks) >= 4
    assert all(words_as_tokens([c.text])[0] <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks) == long.text


def test_bad_parameters_are_rejected_with_the_value() -> None:
    with pytest.raises(ValueError, match="got 3"):
        chunk_article(ARTICLE, count_tokens=words_as_tokens, max_tokens=3, overlap=0)
