"""The ingest pipeline: articles in, chunks with vectors out, into the index.

    read files -> compare with the index -> chunk -> embed (batched across articles) -> write

Idempotent: an unchanged article is skipped, a changed one is replaced (its old chunks deleted),
the same text under a second name is indexed once, and an article that an interrupted run left
half-written is redone. The steps are plain functions; ``ingest_articles`` strings them together.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from ingest.chunking import chunk_article, passage_text
from ingest.readers import Skipped, article_id_for, find_files, read_file
from qa.index.embeddings import count_tokens_fn
from qa.index.store import ChunkStore, IndexSpec, spec_for
from qa.settings import Settings
from qa.types import Article, Chunk

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deferred(Skipped):
    """A feed item not tried this run: an earlier try failed (``reason``) and its back-off runs
    until ``retry_at`` (ISO 8601, UTC)."""

    retry_at: str = ""


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    pruned: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[Skipped] = field(default_factory=list)  # ingested, but worth knowing
    deferred: list[Deferred] = field(default_factory=list)  # waiting for their back-off
    chunks: int = 0  # total chunks in the index afterwards
    new_chunks: int = 0
    article_ids: list[str] = field(default_factory=list)  # added or updated this run
    read: int = 0  # articles and feeds that could be read; none at all is a failed run

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "pruned": self.pruned,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "deferred": [
                {"path": d.path, "reason": d.reason, "retry_at": d.retry_at} for d in self.deferred
            ],
            "notes": [{"path": s.path, "note": s.reason} for s in self.notes],
            "chunks": self.chunks,
        }

    @property
    def ingested(self) -> int:
        return self.added + self.updated + self.unchanged


@dataclass(frozen=True)
class Progress:
    articles_done: int
    articles_total: int
    chunks_done: int


ProgressFn = Callable[[Progress], None]


def index_spec(settings: Settings, embeddings: Embeddings) -> IndexSpec:
    return spec_for(settings, embeddings)


def read_paths(paths: Sequence[Path], *, max_bytes: int) -> tuple[list[Article], list[Skipped]]:
    """Every article under ``paths`` (files or folders, recursively), and what was skipped."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for path in paths:
        if not path.exists():
            skipped.append(Skipped(str(path), "bestaat niet"))
    for root, file in find_files([p for p in paths if p.exists()]):
        for result in read_file(file, article_id=article_id_for(root, file), max_bytes=max_bytes):
            (articles if isinstance(result, Article) else skipped).append(result)  # type: ignore[arg-type]
    return articles, skipped


def ingest_paths(
    paths: Sequence[Path], *, store: ChunkStore, embeddings: Embeddings, settings: Settings,
    prune: bool = False, progress: ProgressFn | None = None,
) -> IngestSummary:  # fmt: skip
    articles, skipped = read_paths(paths, max_bytes=int(settings.max_file_mb * 1_000_000))
    summary = ingest_articles(
        articles, store=store, embeddings=embeddings, settings=settings, progress=progress
    )
    summary.skipped = skipped + summary.skipped
    if prune:
        summary.pruned = prune_missing(store)
        summary.chunks = store.count()
    return summary


def ingest_articles(
    articles: Iterable[Article], *, store: ChunkStore, embeddings: Embeddings,
    settings: Settings, progress: ProgressFn | None = None, batch_chunks: int = 64,
) -> IngestSummary:  # fmt: skip
    articles = list(articles)
    summary = IngestSummary(read=len(articles))
    existing = store.articles()
    owner_of_hash = {s.hash: s.article_id for s in existing.values() if s.complete}
    count_tokens = count_tokens_fn(embeddings)

    pending: list[tuple[Article, list[Chunk]]] = []
    done = 0

    def flush() -> None:
        nonlocal pending
        if not pending:
            return
        texts = [passage_text(a.title, c.text) for a, chunks in pending for c in chunks]
        vectors = _embed(embeddings, texts)
        offset = 0
        with store.writing():  # one lock and one change notice per batch
            for article, chunks in pending:
                store.add_article(article, chunks, vectors[offset : offset + len(chunks)])
                offset += len(chunks)
                summary.new_chunks += len(chunks)
        pending = []

    seen_ids: set[str] = set()
    for article in articles:
        if article.id in seen_ids:
            summary.skipped.append(
                Skipped(
                    _where(article), f"dubbele id '{article.id}'; alleen de eerste is opgenomen"
                )
            )
            done += 1
            continue
        seen_ids.add(article.id)
        state = existing.get(article.id)
        for note in article.notes:
            summary.notes.append(Skipped(article.path or article.id, note))
        owner = owner_of_hash.get(article.hash)
        if state and state.complete and state.hash == article.hash:
            summary.unchanged += 1
        elif owner is not None and owner != article.id:
            summary.skipped.append(
                Skipped(_where(article), f"zelfde tekst als artikel '{owner}'; één keer opgenomen")
            )
        else:
            chunks = chunk_article(
                article, count_tokens=count_tokens, max_tokens=settings.chunk_tokens,
                overlap=settings.chunk_overlap_sentences,
            )  # fmt: skip
            if not chunks:
                summary.skipped.append(Skipped(_where(article), "geen zinnen gevonden"))
            else:
                pending.append((article, chunks))
                owner_of_hash[article.hash] = article.id
                summary.article_ids.append(article.id)
                if state is None:
                    summary.added += 1
                else:
                    summary.updated += 1
                if sum(len(c) for _, c in pending) >= batch_chunks:
                    flush()
        done += 1
        if progress:
            progress(Progress(done, len(articles), summary.new_chunks))
    flush()
    if progress:
        progress(Progress(done, len(articles), summary.new_chunks))
    summary.chunks = store.count()
    return summary


def prune_missing(store: ChunkStore) -> int:
    """Drop articles whose source file is gone. Returns how many were dropped."""
    gone = [s.article_id for s in store.articles().values() if s.path and not Path(s.path).exists()]
    for article_id in gone:
        store.delete_article(article_id)
    return len(gone)


def _where(article: Article) -> str:
    return f"{article.path}#{article.id}" if article.path else article.id


def _embed(embeddings: Embeddings, texts: list[str]) -> Any:
    encode = getattr(embeddings, "encode", None)
    if encode is not None:
        return encode(texts, query=False)
    return embeddings.embed_documents(texts)
