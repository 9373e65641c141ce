"""The typed objects that travel between modules: articles, chunks, search hits and answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


def content_hash(text: str) -> str:
    """A stable fingerprint of an article's text, for idempotent ingest and de-duplication."""
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    title: str = ""
    date: str | None = None  # ISO 8601 (YYYY, YYYY-MM or YYYY-MM-DD) when known
    source: str | None = None  # outlet or collection, e.g. "NOS Nieuws"
    url: str | None = None
    path: str | None = None
    notes: tuple[str, ...] = ()  # e.g. "decoded as cp1252"

    @cached_property
    def hash(self) -> str:
        return content_hash(self.title + "\n" + self.text)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article, with offsets into the article's text."""

    id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]  # sentence spans, offsets into the article's text


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the metadata of its article and its fused score."""

    chunk_id: str
    article_id: str
    text: str
    start: int
    sentences: tuple[tuple[int, int], ...]  # offsets into the article's text
    title: str = ""
    date: str | None = None
    source: str | None = None
    url: str | None = None
    score: float = 0.0
    dense: float = 0.0  # cosine similarity of query and chunk, 0 when not a dense hit

    def sentence_texts(self) -> list[tuple[int, int, str]]:
        """(start, end, text) of each sentence, offsets relative to the article."""
        out = []
        for s, e in self.sentences:
            out.append((s, e, self.text[s - self.start : e - self.start]))
        return out


@dataclass(frozen=True)
class Source:
    """One numbered source of an answer: an article, the text shown of it, and the sentences of
    that text the answer cites (none for an article that was only searched)."""

    n: int
    article_id: str
    title: str
    text: str
    highlights: tuple[tuple[int, int], ...] = ()  # character spans of cited sentences in ``text``
    date: str | None = None
    source: str | None = None
    url: str | None = None

    @property
    def highlight(self) -> tuple[int, int] | None:
        """The first cited sentence's span (what a one-sentence view shows)."""
        return self.highlights[0] if self.highlights else None

    @property
    def sentences(self) -> tuple[str, ...]:
        """The cited sentences themselves, in order."""
        return tuple(self.text[s:e] for s, e in self.highlights)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "article_id": self.article_id,
            "title": self.title,
            "date": self.date,
            "source": self.source,
            "url": self.url,
            "text": self.text,
            "highlight": list(self.highlight) if self.highlight else None,
            "highlights": [list(span) for span in self.highlights],
            "sentences": list(self.sentences),
        }


@dataclass(frozen=True)
class Answer:
    answer: str
    refused: bool
    query: str
    sources: tuple[Source, ...] = ()
    cited: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    mode: str = "offline"  # "offline" or the LLM spec that answered
    retrieved: tuple[str, ...] = field(default=(), compare=False)  # article ids, rank order
    searched: tuple[str, ...] = ()  # titles of retrieved articles that the answer does not cite

    def to_json(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "refused": self.refused,
            "query": self.query,
            "sources": [s.to_json() for s in self.sources],
            "cited": list(self.cited),
            "warnings": list(self.warnings),
            "mode": self.mode,
            "searched": list(self.searched),
        }
