"""Hybrid retrieval: dense search (Chroma) and BM25 (SQLite FTS5) over the same chunks, fused.

    embed query + analyse query -> dense top-N and BM25 top-N -> reciprocal rank fusion
    -> optional cross-encoder rerank -> at most ``per_article`` chunks per article -> top k

Both sides see Dutch text the same way (``qa.text``). The BM25 index is persistent and updated by
ingest; nothing here rebuilds anything per query.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from langchain_core.embeddings import Embeddings

from qa.index.store import ChunkStore
from qa.text import analyze
from qa.types import Hit

log = logging.getLogger(__name__)

RRF_K = 60


@dataclass(frozen=True)
class Filters:
    sources: tuple[str, ...] = ()
    date_from: str | None = None  # ISO date, inclusive
    date_to: str | None = None

    def kwargs(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources) or None,
            "date_from": self.date_from,
            "date_to": self.date_to,
        }


NO_FILTERS = Filters()


class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder (a hub id or a folder)."""

    def __init__(self, model_name: str) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(model_name, device="cpu")

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [float(s) for s in self.model.predict([(query, p) for p in passages])]


def query_vector(embeddings: Embeddings, query: str) -> list[float]:
    encode = getattr(embeddings, "encode", None)
    if encode is not None:
        return [float(x) for x in encode([query], query=True)[0]]
    return embeddings.embed_query(query)


class HybridRetriever:
    def __init__(
        self, store: ChunkStore, embeddings: Embeddings, *, candidates: int = 30,
        per_article: int = 3, reranker: Reranker | None = None,
    ) -> None:  # fmt: skip
        if candidates <= 0:
            raise ValueError(f"candidates must be > 0, got {candidates}")
        if per_article <= 0:
            raise ValueError(f"per_article must be > 0, got {per_article}")
        self.store = store
        self.embeddings = embeddings
        self.candidates = candidates
        self.per_article = per_article
        self.reranker = reranker

    def retrieve(
        self, query: str, k: int = 6, filters: Filters = NO_FILTERS,
        vector: Sequence[float] | None = None, prefer_article: str | None = None,
    ) -> list[Hit]:  # fmt: skip
        """The ``k`` best chunks; pass ``vector`` when the query is already embedded, and
        ``prefer_article`` to favour the article a conversation is about (follow-ups)."""
        if k <= 0:
            raise ValueError(f"k must be > 0, got {k}")
        # 1. both searches
        if vector is None:
            vector = query_vector(self.embeddings, query)
        dense = self.store.dense_search(vector, self.candidates, **filters.kwargs())
        lexical = self.store.lexical_search(analyze(query), self.candidates, **filters.kwargs())
        # 2. reciprocal rank fusion
        fused: dict[str, float] = {}
        for rank, hit in enumerate(dense):
            fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        for rank, (chunk_id, _score) in enumerate(lexical):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        if prefer_article is not None:
            topic = self.store.dense_search(
                vector, 6, articles=[prefer_article], **filters.kwargs()
            )
            for rank, hit in enumerate(topic):
                fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.5 / (RRF_K + rank + 1)
            dense = dense + [h for h in topic if h.chunk_id not in {d.chunk_id for d in dense}]
        # 3. fetch the lexical-only chunks, with their dense similarity
        hits = {h.chunk_id: h for h in dense}
        missing = [cid for cid, _ in lexical if cid not in hits]
        for hit in self.store.get_hits(missing, query_vector=vector):
            hits[hit.chunk_id] = hit
        ranked = sorted(
            (
                dataclasses.replace(hits[cid], score=score)
                for cid, score in fused.items()
                if cid in hits
            ),
            key=lambda h: h.score,
            reverse=True,
        )
        # 4. optional cross-encoder
        if self.reranker is not None and ranked:
            head = ranked[: max(k * 3, 12)]
            scores = self.reranker.score(query, [h.title + "\n" + h.text for h in head])
            head = [
                dataclasses.replace(h, score=s)
                for h, s in sorted(zip(head, scores, strict=True), key=lambda p: -p[1])
            ]
            ranked = head + ranked[len(head) :]
        # 5. diversity: no article crowds out the others
        return diversify(ranked, k, self.per_article)


def diversify(ranked: Sequence[Hit], k: int, per_article: int) -> list[Hit]:
    out: list[Hit] = []
    taken: dict[str, int] = {}
    for hit in ranked:
        if taken.get(hit.article_id, 0) >= per_article:
            continue
        taken[hit.article_id] = taken.get(hit.article_id, 0) + 1
        out.append(hit)
        if len(out) == k:
            break
    return out
