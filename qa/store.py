"""The index: chunks with their vectors in Chroma, and the same chunks' terms in a lexical index.

``open_store`` is the one factory. It connects to an embedded Chroma folder or a Chroma server,
applies the model guard (the collection records the embedding model, its dimension, the chunk
parameters and a schema version; any mismatch is an ``IndexMismatchError`` naming both sides), and
brings the lexical index in step with Chroma when they differ (Chroma is the source of truth).

What this module does not do: embed text (callers pass vectors) or rank results (``qa.retrieval``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from qa.errors import IndexEmptyError, IndexMismatchError, IndexUnavailableError
from qa.lexical import LexicalIndex, LexicalRow
from qa.settings import Settings, env_var
from qa.text import analyze
from qa.types import Article, Chunk, Hit

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
GENERATION_KEY = "vraagbaak_generation"


@dataclass(frozen=True)
class IndexSpec:
    """What an index was built with. Ingest and query must agree on it."""

    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    schema: int = SCHEMA_VERSION

    def to_metadata(self) -> dict[str, Any]:
        return {f"vraagbaak_{k}": v for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any] | None) -> IndexSpec | None:
        metadata = metadata or {}
        try:
            return cls(**{k: metadata[f"vraagbaak_{k}"] for k in cls.__dataclass_fields__})
        except KeyError:
            return None

    def differences(self, other: IndexSpec, *, for_writing: bool) -> list[str]:
        keys = ["schema", "embedding_model", "dimension"]
        if for_writing:
            keys += ["chunk_tokens", "chunk_overlap"]
        return [
            f"{k}: index={getattr(other, k)!r}, instellingen={getattr(self, k)!r}"
            for k in keys
            if getattr(self, k) != getattr(other, k)
        ]


def spec_for(settings: Settings, embeddings: Any) -> IndexSpec:
    """The spec an index built with these settings and this embedding model must have."""
    from qa.embeddings import describe

    name, dim = describe(embeddings)
    return IndexSpec(name, dim, settings.chunk_tokens, settings.chunk_overlap_sentences)


@dataclass(frozen=True)
class ArticleState:
    """What the index holds of one article (read from its chunks' metadata)."""

    article_id: str
    hash: str
    n_chunks: int
    present: int
    path: str | None

    @property
    def complete(self) -> bool:
        return self.present == self.n_chunks


# --- clients: one per process and location -----------------------------------------------------

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=True)


def _client(settings: Settings, *, fresh: bool = False) -> Any:
    import chromadb

    key = settings.chroma_url or str(settings.index_dir.resolve())
    with _clients_lock:
        if key in _clients and not fresh:
            return _clients[key]
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            if not url.hostname:
                raise IndexUnavailableError(
                    f"Ongeldige Chroma-URL {settings.chroma_url!r}; verwacht http://host:poort."
                )
            try:
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=_chroma_settings(),
                )
                client.heartbeat()
            except Exception as err:  # noqa: BLE001 - httpx/chroma raise many kinds
                raise IndexUnavailableError(
                    f"De Chroma-server op {settings.chroma_url} is niet bereikbaar ({err}). "
                    f"Start hem met 'chroma run', of zet {env_var('chroma_url')} leeg."
                ) from err
        else:
            if fresh:
                # Another process wrote to this folder: an embedded client never sees that, so
                # the cached system is dropped and the folder reopened.
                from chromadb.api.shared_system_client import SharedSystemClient

                SharedSystemClient._identifier_to_system.pop(key, None)  # noqa: SLF001
                SharedSystemClient._identifier_to_refcount.pop(key, None)  # noqa: SLF001
            path = settings.index_dir / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            try:
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
            except Exception as err:  # noqa: BLE001
                raise IndexUnavailableError(f"De index in {path} kan niet geopend worden: {err}") from err
        _clients[key] = client
        return client


def lexical_path(settings: Settings) -> Path:
    """Embedded mode: beside the Chroma folder. Server mode: a local cache per server+collection,
    kept in step with the server (see ``ChunkStore.sync_lexical``)."""
    if settings.chroma_url:
        tag = hashlib.sha1(f"{settings.chroma_url}|{settings.collection}".encode()).hexdigest()[:12]
        return settings.model_cache / "lexical" / f"{tag}.sqlite"
    return settings.index_dir / f"lexical-{settings.collection}.sqlite"


def open_store(
    settings: Settings, spec: IndexSpec, *, for_writing: bool = False, reset: bool = False
) -> ChunkStore:
    """Open (or, for writing, create) the index described by ``settings``; apply the model guard."""
    client = _client(settings)
    name = settings.collection
    if reset:
        try:
            client.delete_collection(name)
        except Exception:  # noqa: BLE001 - not there: nothing to reset
            pass
        lexical = LexicalIndex(lexical_path(settings))
        lexical.clear()
        lexical.close()
    try:
        collection = client.get_collection(name, embedding_function=None)
    except Exception:  # noqa: BLE001 - chroma raises NotFoundError or ValueError by version
        collection = None
    if collection is None:
        if not for_writing:
            raise IndexEmptyError(_empty_message(settings))
        metadata = {**spec.to_metadata(), GENERATION_KEY: 0, "hnsw:space": "cosine"}
        collection = client.get_or_create_collection(
            name, metadata=metadata, embedding_function=None
        )
    found = IndexSpec.from_metadata(collection.metadata)
    if found is None:
        raise IndexMismatchError(
            f"De collectie '{name}' is niet door Vraagbaak gemaakt. Kies een andere naam "
            f"({env_var('collection')}) of bouw opnieuw met --reset."
        )
    diffs = spec.differences(found, for_writing=for_writing)
    if diffs:
        raise IndexMismatchError(
            "De index is met andere instellingen gebouwd dan nu gevraagd: "
            + "; ".join(diffs)
            + ". Gebruik dezelfde instellingen, of bouw de index opnieuw met --reset "
            "(dat wist de bestaande index)."
        )
    store = ChunkStore(settings, client, collection, LexicalIndex(lexical_path(settings)), spec)
    store.sync_lexical()
    return store


def _empty_message(settings: Settings) -> str:
    where = settings.chroma_url or str(settings.index_dir)
    return (
        f"De index ({where}) bevat nog geen artikelen. Vul hem met: "
        f"python -m ingest data/articles --index {settings.index_dir}"
    )


def _where(
    sources: Sequence[str] | None, date_from: str | None, date_to: str | None
) -> dict[str, Any] | None:
    # Chroma compares strings only for equality, so date ranges are filtered on the 'year'
    # and 'yyyymmdd' integers stored with each chunk.
    clauses: list[dict[str, Any]] = []
    if sources:
        clauses.append({"source": {"$in": list(sources)}})
    if date_from:
        clauses.append({"date_num": {"$gte": date_number(date_from, low=True)}})
    if date_to:
        clauses.append({"date_num": {"$lte": date_number(date_to, low=False)}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def date_number(date: str, *, low: bool) -> int:
    """'2024-06' -> 20240600 (low) or 20240699 (high): sortable, partial dates kept in range."""
    parts = date.split("-")
    year = int(parts[0])
    month = int(parts[1]) if len(parts) > 1 else (0 if low else 99)
    day = int(parts[2]) if len(parts) > 2 else (0 if low else 99)
    return year * 10000 + month * 100 + day


class ChunkStore:
    def __init__(
        self, settings: Settings, client: Any, collection: Any, lexical: LexicalIndex,
        spec: IndexSpec,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.spec = spec
        self._client = client
        self._collection = collection
        self.lexical = lexical
        self._lock = threading.RLock()
        self._generation = self._read_generation()
        self._checked_at = time.monotonic()

    # --- writing ---------------------------------------------------------------------------

    def add_article(self, article: Article, chunks: Sequence[Chunk], vectors: Any) -> None:
        """Write one article's chunks (replacing any older version) to Chroma, then to the
        lexical index. Chroma first: if we die in between, ``sync_lexical`` repairs the rest."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        self.delete_article(article.id, bump=False)
        metadatas = [self._metadata(article, c, len(chunks)) for c in chunks]
        ids = [c.id for c in chunks]
        batch = max(1, min(self._max_batch(), 1000))
        for i in range(0, len(chunks), batch):
            self._collection.upsert(
                ids=ids[i : i + batch],
                embeddings=[list(map(float, v)) for v in vectors[i : i + batch]],
                documents=[c.text for c in chunks[i : i + batch]],
                metadatas=metadatas[i : i + batch],
            )
        self.lexical.add(
            LexicalRow(c.id, article.id, analyze(article.title + "\n" + c.text), article.source,
                       article.date)
            for c in chunks
        )  # fmt: skip
        self.bump_generation()

    def delete_article(self, article_id: str, *, bump: bool = True) -> None:
        self._collection.delete(where={"article_id": article_id})
        self.lexical.delete_article(article_id)
        if bump:
            self.bump_generation()

    def _max_batch(self) -> int:
        try:
            return int(self._client.get_max_batch_size())
        except Exception:  # noqa: BLE001
            return 1000

    @staticmethod
    def _metadata(article: Article, chunk: Chunk, n_chunks: int) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "article_id": article.id,
            "title": article.title,
            "hash": article.hash,
            "chunk_index": chunk.index,
            "n_chunks": n_chunks,
            "start": chunk.start,
            "end": chunk.end,
            "sentences": json.dumps([list(s) for s in chunk.sentences]),
        }
        for key in ("date", "source", "url", "path"):
            value = getattr(article, key)
            if value:
                meta[key] = value
        if article.date:
            meta["date_num"] = date_number(article.date, low=True)
        return meta

    # --- state -----------------------------------------------------------------------------

    def count(self) -> int:
        return int(self._collection.count())

    def articles(self) -> dict[str, ArticleState]:
        """Every article in the index, with its hash and how many of its chunks are present."""
        states: dict[str, dict[str, Any]] = {}
        for metas in self._iter_metadatas():
            for meta in metas:
                aid = meta.get("article_id")
                if aid is None:
                    continue
                s = states.setdefault(
                    aid, {"hash": meta.get("hash", ""), "n": meta.get("n_chunks", 0), "present": 0,
                          "path": meta.get("path")}
                )  # fmt: skip
                if meta.get("hash") != s["hash"]:
                    s["hash"] = "mixed"  # half-replaced: treat as changed
                s["present"] += 1
        return {
            aid: ArticleState(aid, s["hash"], int(s["n"]), s["present"], s["path"])
            for aid, s in states.items()
        }

    def _iter_metadatas(self, page: int = 5000) -> Iterator[list[dict[str, Any]]]:
        offset = 0
        while True:
            got = self._collection.get(include=["metadatas"], limit=page, offset=offset)
            metas = got.get("metadatas") or []
            if not metas:
                return
            yield [dict(m or {}) for m in metas]
            offset += len(metas)
            if len(metas) < page:
                return

    def sources(self) -> list[str]:
        found = set()
        for metas in self._iter_metadatas():
            found.update(str(m["source"]) for m in metas if m.get("source"))
        return sorted(found)

    # --- reading ---------------------------------------------------------------------------

    def dense_search(
        self, vector: Sequence[float], k: int, *, sources: Sequence[str] | None = None,
        date_from: str | None = None, date_to: str | None = None,
    ) -> list[Hit]:  # fmt: skip
        if k <= 0:
            return []
        with self._lock:
            result = self._collection.query(
                query_embeddings=[list(map(float, vector))],
                n_results=k,
                where=_where(sources, date_from, date_to),
                include=["documents", "metadatas", "distances"],
            )
        ids = result["ids"][0]
        docs = (result.get("documents") or [[]])[0]
        metas = (result.get("metadatas") or [[]])[0]
        dists = (result.get("distances") or [[]])[0]
        return [
            _hit(i, d, m or {}, dense=1.0 - float(dist))
            for i, d, m, dist in zip(ids, docs, metas, dists, strict=True)
        ]

    def lexical_search(
        self, terms: Sequence[str], k: int, *, sources: Sequence[str] | None = None,
        date_from: str | None = None, date_to: str | None = None,
    ) -> list[tuple[str, float]]:  # fmt: skip
        return self.lexical.search(terms, k, sources=sources, date_from=date_from, date_to=date_to)

    def get_hits(
        self, chunk_ids: Sequence[str], *, query_vector: Sequence[float] | None = None
    ) -> list[Hit]:
        """The chunks with these ids, in this order; with ``query_vector``, each hit's ``dense``
        is its cosine similarity to it (vectors are normalised)."""
        if not chunk_ids:
            return []
        include = ["documents", "metadatas"] + (["embeddings"] if query_vector is not None else [])
        with self._lock:
            got = self._collection.get(ids=list(chunk_ids), include=include)
        docs = got["documents"] or []
        metas = got["metadatas"] or []
        vectors = got.get("embeddings") if query_vector is not None else None
        by_id = {}
        for n, (i, d, m) in enumerate(zip(got["ids"], docs, metas, strict=True)):
            dense = 0.0
            if vectors is not None and query_vector is not None:
                dense = float(sum(a * b for a, b in zip(vectors[n], query_vector, strict=False)))
            by_id[i] = _hit(i, d, m or {}, dense=dense)
        return [by_id[i] for i in chunk_ids if i in by_id]

    # --- keeping in step with other processes ----------------------------------------------

    def _read_generation(self) -> int:
        if self.settings.chroma_url:
            try:
                collection = self._client.get_collection(
                    self.settings.collection, embedding_function=None
                )
                return int((collection.metadata or {}).get(GENERATION_KEY, 0))
            except Exception:  # noqa: BLE001
                return -1
        value = self.lexical.get_meta("generation")
        return int(value) if value else 0

    def bump_generation(self) -> None:
        """Tell other processes that the index changed."""
        generation = max(self._read_generation(), self._generation) + 1
        if self.settings.chroma_url:
            metadata = {**(self._collection.metadata or {}), GENERATION_KEY: generation}
            metadata.pop("hnsw:space", None)
            try:
                self._collection.modify(metadata=metadata)
            except Exception as err:  # noqa: BLE001
                log.warning("could not record the index generation on the server: %s", err)
        self.lexical.set_meta("generation", str(generation))
        self._generation = generation

    def refresh_if_changed(self, *, min_interval_s: float = 0.0) -> bool:
        """Reopen when another process changed the index; cheap enough to call per question."""
        now = time.monotonic()
        if now - self._checked_at < min_interval_s:
            return False
        self._checked_at = now
        generation = self._read_generation()
        if generation == self._generation:
            return False
        with self._lock:
            log.info("index changed by another process (generation %s); reopening", generation)
            if not self.settings.chroma_url:
                self._client = _client(self.settings, fresh=True)
            self._collection = self._client.get_collection(
                self.settings.collection, embedding_function=None
            )
            self._generation = generation
            self.sync_lexical()
        return True

    def sync_lexical(self) -> int:
        """Make the lexical index hold exactly Chroma's chunks. Returns how many rows changed."""
        if self.lexical.count() == self.count() and self.lexical.get_meta("synced") == "1":
            return 0
        chroma_ids: set[str] = set()
        offset = 0
        while True:
            got = self._collection.get(include=[], limit=10000, offset=offset)
            if not got["ids"]:
                break
            chroma_ids.update(got["ids"])
            offset += len(got["ids"])
        lexical_ids = self.lexical.chunk_ids()
        missing = sorted(chroma_ids - lexical_ids)
        extra = lexical_ids - chroma_ids
        if missing or extra:
            log.warning(
                "lexical index out of step with Chroma (%d missing, %d extra); repairing",
                len(missing), len(extra),
            )  # fmt: skip
        self.lexical.delete_chunks(extra)
        for i in range(0, len(missing), 1000):
            hits = self.get_hits(missing[i : i + 1000])
            self.lexical.add(
                LexicalRow(h.chunk_id, h.article_id, analyze(h.title + "\n" + h.text), h.source,
                           h.date)
                for h in hits
            )  # fmt: skip
        self.lexical.set_meta("synced", "1")
        return len(missing) + len(extra)


def _hit(chunk_id: str, document: str, meta: dict[str, Any], *, dense: float = 0.0) -> Hit:
    return Hit(
        chunk_id=chunk_id,
        article_id=str(meta.get("article_id", "")),
        text=document or "",
        start=int(meta.get("start", 0)),
        sentences=tuple(tuple(s) for s in json.loads(meta.get("sentences", "[]"))),  # type: ignore[misc]
        title=str(meta.get("title", "")),
        date=meta.get("date"),
        source=meta.get("source"),
        url=meta.get("url"),
        dense=dense,
    )
