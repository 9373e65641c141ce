"""The index: chunks with their vectors in Chroma, and the same chunks' terms in a lexical index.

``open_store`` is the one factory. It connects to an embedded Chroma folder or a Chroma server,
applies the model guard (the collection records the embedding model, its dimension, the chunk
parameters and a schema version; any mismatch is an ``IndexMismatchError`` naming both sides), and
brings the lexical index in step with Chroma when they differ (Chroma is the source of truth).

Several processes may use one index (an app that serves, an ingest that writes). How they stay in
step, in order:

1. Every write ends by setting a new *generation* token in the collection's metadata
   (``vraagbaak_generation``; ``collection.modify`` replaces the whole metadata, so the other keys
   are copied along). Readers compare it with the generation they last caught up with
   (``refresh_if_changed``, called before each question, at most every ``refresh_s`` seconds).
2. Embedded Chroma keeps each collection's vector index in memory and never re-reads what another
   process wrote, so on a new generation the process's client is closed and opened again
   (``_Connection.reopen``). A server needs no reopen: every client sees every write at once.
3. The lexical index follows Chroma: it is a file beside the Chroma folder (shared by every process
   on that folder), or in server mode a local cache per server and collection. ``sync_lexical``
   compares chunk ids and article hashes with Chroma and repairs the difference, so an index that
   another machine changed, a crash between the two writes, or a lost or damaged lexical file all
   end the same way: the lexical side is rebuilt from Chroma.
4. Writers hold a lock (``ChunkStore.writing``: a lock file beside an embedded index) and catch
   up before they write: an embedded writer with a stale vector index would otherwise write it
   over what another process wrote (seen with chromadb 1.5 once a write passes 1000 records).

What this module does not do: embed text (callers pass vectors) or rank results
(``qa.index.retrieval``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from qa.errors import (
    IndexEmptyError,
    IndexMismatchError,
    IndexUnavailableError,
    UnknownArticleError,
)
from qa.index.lexical import LexicalIndex, LexicalRow
from qa.settings import Settings, env_var
from qa.text import analyze
from qa.types import Article, Chunk, Hit

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
GENERATION_KEY = "vraagbaak_generation"
WRITE_LOCK = "write.lock"  # beside an embedded index: one writer at a time, across processes


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
    from qa.index.embeddings import describe

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
    title: str = ""
    date: str | None = None
    source: str | None = None
    url: str | None = None

    @property
    def complete(self) -> bool:
        return self.present == self.n_chunks


@dataclass(frozen=True)
class ArticleInfo:
    """One article as a person sees it in a list (``ChunkStore.list_articles``)."""

    id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    chunks: int  # how many of its chunks the index holds


# --- connections: one Chroma client per process and location ----------------------------------


class _SharedLock:
    """Many holders of ``shared()`` at once, or one of ``exclusive()``: Chroma calls share the
    client; a reopen, which closes it, waits until no call is using it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._owner: int | None = None

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        if self._owner == threading.get_ident():  # the reopening thread itself
            yield
            return
        with self._cond:
            while self._owner is not None:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._owner is not None or self._readers:
                self._cond.wait()
            self._owner = threading.get_ident()
        try:
            yield
        finally:
            with self._cond:
                self._owner = None
                self._cond.notify_all()


class _Connection:
    """The process's Chroma client for one index location, shared by every ChunkStore on it.

    ``seen`` holds, per collection, the generation this process has caught up with: the one read
    just before the client was (re)opened, or the one its own last write set.
    """

    def __init__(self, settings: Settings) -> None:
        self.url = settings.chroma_url
        self.index_dir = settings.index_dir
        self.lock = _SharedLock()
        self.refresh_lock = threading.Lock()
        self._write_mutex = threading.RLock()
        self._write_depth = 0
        self.epoch = 0
        self.seen: dict[str, int] = {}
        self.client = self._connect()

    @property
    def where(self) -> str:
        return self.url or str(self.index_dir)

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
        if self.url:
            url = urlparse(self.url)
            if not url.hostname:
                raise IndexUnavailableError(
                    f"Ongeldige Chroma-URL {self.url!r}; verwacht http://host:poort."
                )
            try:
                client = chromadb.HttpClient(
                    host=url.hostname,
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                client.heartbeat()
            except Exception as err:  # noqa: BLE001 - httpx/chroma raise many kinds
                raise IndexUnavailableError(
                    f"De Chroma-server op {self.url} is niet bereikbaar ({err}). "
                    f"Start hem met 'chroma run', of zet {env_var('chroma_url')} leeg."
                ) from err
            return client
        path = self.index_dir / "chroma"
        try:
            path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as err:  # noqa: BLE001
            raise IndexUnavailableError(
                f"De index in {path} kan niet geopend worden: {err}"
            ) from err

    def reopen(self) -> None:
        """Embedded only: drop the client and its in-memory vector indexes, and open the folder
        again, so that what other processes wrote becomes visible. Waits for running calls."""
        if self.url:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        with self.lock.exclusive():
            # Chroma caches one "system" per folder for the whole process; a new client would get
            # the old one back, so it is taken out of that cache and stopped first.
            identifier = getattr(self.client, "_identifier", str(self.index_dir / "chroma"))
            system = SharedSystemClient._identifier_to_system.pop(identifier, None)  # noqa: SLF001
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)  # noqa: SLF001
            if system is not None:
                system.stop()
            self.client = self._connect()
            self.epoch += 1

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        """One writer at a time: threads of this process, and (embedded) other processes."""
        with self._write_mutex:
            self._write_depth += 1
            try:
                if self._write_depth > 1 or self.url:
                    yield
                    return
                with _file_lock(self.index_dir / WRITE_LOCK):
                    yield
            finally:
                self._write_depth -= 1


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path``; released by the OS if the process dies."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock across processes
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_connections: dict[str, _Connection] = {}
_connections_lock = threading.Lock()


def _connection(settings: Settings) -> tuple[_Connection, bool]:
    """The process's connection for this location, and whether it was made just now."""
    key = settings.chroma_url or str(settings.index_dir.resolve())
    with _connections_lock:
        if key in _connections:
            return _connections[key], False
        conn = _Connection(settings)
        _connections[key] = conn
        return conn, True


def lexical_path(settings: Settings) -> Path:
    """Embedded mode: beside the Chroma folder. Server mode: a local cache per server+collection,
    kept in step with the server (see ``ChunkStore.sync_lexical``)."""
    if settings.chroma_url:
        tag = hashlib.sha1(f"{settings.chroma_url}|{settings.collection}".encode()).hexdigest()[:12]
        return settings.model_cache / "lexical" / f"{tag}.sqlite"
    return settings.index_dir / f"lexical-{settings.collection}.sqlite"


def _generation_of(collection: Any) -> int:
    try:
        return int((collection.metadata or {}).get(GENERATION_KEY, 0))
    except (TypeError, ValueError):
        return 0


def _new_generation(previous: int) -> int:
    # Unique across processes (microseconds), and always larger than the one before.
    return max(previous + 1, time.time_ns() // 1000)


def _get_collection(client: Any, name: str) -> Any | None:
    from chromadb.errors import NotFoundError

    try:
        return client.get_collection(name, embedding_function=None)
    except (NotFoundError, ValueError):  # ValueError: older chroma versions
        return None


def _check_spec(spec: IndexSpec, collection: Any, name: str, *, for_writing: bool) -> None:
    """The model guard: raise IndexMismatchError unless the collection was built like ``spec``."""
    found = IndexSpec.from_metadata(collection.metadata)
    if found is None:
        raise _foreign_collection(name)
    diffs = spec.differences(found, for_writing=for_writing)
    if diffs:
        raise IndexMismatchError(
            "De index is met andere instellingen gebouwd dan nu gevraagd: "
            + "; ".join(diffs)
            + ". Gebruik dezelfde instellingen, of bouw de index opnieuw met --reset "
            "(dat wist de bestaande index)."
        )


def _foreign_collection(name: str) -> IndexMismatchError:
    return IndexMismatchError(
        f"De collectie '{name}' is niet door Vraagbaak gemaakt. Kies een andere naam "
        f"({env_var('collection')}) of bouw opnieuw met --reset."
    )


def recorded_spec(settings: Settings) -> IndexSpec:
    """The spec the existing index was built with, read from the index itself.

    For work that never embeds (listing or removing articles): ``open_store(settings,
    recorded_spec(settings))`` opens the index without loading the embedding model. Raises
    ``IndexEmptyError`` when there is no index yet (an embedded folder is not created for it).
    """
    if not settings.chroma_url and not (settings.index_dir / "chroma").is_dir():
        raise IndexEmptyError(_empty_message(settings))
    conn, _ = _connection(settings)
    collection = _get_collection(conn.client, settings.collection)
    if collection is None:
        raise IndexEmptyError(_empty_message(settings))
    spec = IndexSpec.from_metadata(collection.metadata)
    if spec is None:
        raise _foreign_collection(settings.collection)
    return spec


def open_store(
    settings: Settings, spec: IndexSpec, *, for_writing: bool = False, reset: bool = False
) -> ChunkStore:
    """Open (or, for writing, create) the index described by ``settings``; apply the model guard."""
    conn, new = _connection(settings)
    name = settings.collection
    guard = conn.write_lock() if (for_writing or reset) else contextlib.nullcontext()
    with guard:
        # 1. an embedded client opened earlier in this process may not see what others wrote
        collection = _get_collection(conn.client, name)
        if not new and collection is not None and conn.seen.get(name) != _generation_of(collection):
            conn.reopen()
            collection = _get_collection(conn.client, name)
        # 2. reset, or create
        if reset:
            if collection is not None:
                conn.client.delete_collection(name)
                collection = None
            lexical = LexicalIndex(lexical_path(settings))
            lexical.clear()
            lexical.close()
        if collection is None:
            if not for_writing:
                raise IndexEmptyError(_empty_message(settings))
            metadata = {
                **spec.to_metadata(),
                GENERATION_KEY: _new_generation(0),
                "hnsw:space": "cosine",
            }
            collection = conn.client.get_or_create_collection(
                name, metadata=metadata, embedding_function=None
            )
        # 3. the model guard
        _check_spec(spec, collection, name, for_writing=for_writing)
        conn.seen[name] = _generation_of(collection)
        store = ChunkStore(settings, conn, collection, LexicalIndex(lexical_path(settings)), spec)
    store.sync_lexical()
    return store


def _empty_message(settings: Settings) -> str:
    where = settings.chroma_url or str(settings.index_dir)
    target = f"--chroma-url {settings.chroma_url}" if settings.chroma_url else (
        f"--index {settings.index_dir}"
    )  # fmt: skip
    return (
        f"De index ({where}) bevat nog geen artikelen. Vul hem met: "
        f"python -m ingest data/articles {target}"
    )


def _where(
    sources: Sequence[str] | None, date_from: str | None, date_to: str | None,
    articles: Sequence[str] | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    # Chroma compares strings only for equality, so date ranges are filtered on the 'year'
    # and 'yyyymmdd' integers stored with each chunk.
    clauses: list[dict[str, Any]] = []
    if sources:
        clauses.append({"source": {"$in": list(sources)}})
    if articles:
        clauses.append({"article_id": {"$in": list(articles)}})
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
    """One collection: its chunks in Chroma and in the lexical index. Thread-safe."""

    def __init__(
        self, settings: Settings, connection: _Connection, collection: Any, lexical: LexicalIndex,
        spec: IndexSpec,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.spec = spec
        self.lexical = lexical
        self._conn = connection
        self._name = settings.collection
        self._collection = collection
        self._epoch = connection.epoch
        self._sync_lock = threading.Lock()
        self._local = threading.local()
        self._checked_at = time.monotonic()

    @contextlib.contextmanager
    def _chroma(self) -> Iterator[Any]:
        """The collection, for one call; Chroma's own errors become Dutch domain errors."""
        import httpx
        from chromadb.errors import NotFoundError

        with self._conn.lock.shared():
            try:
                if self._epoch != self._conn.epoch:  # reopened by another store of this process
                    self._collection = self._conn.client.get_collection(
                        self._name, embedding_function=None
                    )
                    self._epoch = self._conn.epoch
                yield self._collection
            except httpx.TransportError as err:
                raise IndexUnavailableError(
                    f"De Chroma-server op {self._conn.where} is niet bereikbaar ({err}). "
                    "Controleer of 'chroma run' nog draait en probeer het opnieuw."
                ) from err
            except NotFoundError as err:
                self._checked_at = -math.inf  # look again at the next call
                raise IndexUnavailableError(
                    f"De collectie '{self._name}' is verdwenen of opnieuw opgebouwd (door een "
                    "ander proces?). Probeer het over een paar seconden opnieuw."
                ) from err

    # --- writing ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self, *, bump: bool = True) -> Iterator[None]:
        """Group writes: one lock, one catch-up with other writers before, one generation bump
        after (``add_article`` and ``delete_article`` use it; ingest may wrap a batch in it)."""
        local = self._local
        if getattr(local, "depth", 0):  # inside an outer writing(): it locks and bumps
            local.depth += 1
            try:
                yield
            finally:
                local.depth -= 1
            return
        with self._conn.write_lock():
            self.refresh_if_changed()
            local.depth = 1
            try:
                yield
            except BaseException:
                local.depth = 0
                if bump:  # some writes may have happened: tell readers, but keep the error
                    with contextlib.suppress(Exception):
                        self.bump_generation()
                raise
            local.depth = 0
            if bump:
                self.bump_generation()

    def add_article(self, article: Article, chunks: Sequence[Chunk], vectors: Any) -> None:
        """Write one article's chunks (replacing any older version) to Chroma, then to the
        lexical index. Chroma first: if we die in between, ``sync_lexical`` repairs the rest."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        article_hash = article.hash  # a property that hashes the whole text: once, not per chunk
        metadatas = [self._metadata(article, c, len(chunks), article_hash) for c in chunks]
        ids = [c.id for c in chunks]
        with self.writing():
            self._delete(article.id)
            batch = max(1, min(self._max_batch(), 1000))
            for i in range(0, len(chunks), batch):
                with self._chroma() as collection:
                    collection.upsert(
                        ids=ids[i : i + batch],
                        embeddings=[list(map(float, v)) for v in vectors[i : i + batch]],
                        documents=[c.text for c in chunks[i : i + batch]],
                        metadatas=metadatas[i : i + batch],
                    )
            self.lexical.add(
                LexicalRow(c.id, article.id, analyze(article.title + "\n" + c.text),
                           article.source, article.date, article_hash)
                for c in chunks
            )  # fmt: skip

    def delete_article(self, article_id: str, *, bump: bool = True) -> None:
        with self.writing(bump=bump):
            self._delete(article_id)

    def remove_articles(self, ids: Sequence[str]) -> int:
        """Take these articles out of Chroma and the lexical index; returns how many.

        All or nothing: when any id is not in the index, ``UnknownArticleError`` names it and
        nothing is removed. The check and the deletes happen under one write lock, and running
        readers are told with a single generation bump.
        """
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        with self.writing(bump=False):
            held = self.articles()
            unknown = [article_id for article_id in wanted if article_id not in held]
            if unknown:
                raise UnknownArticleError(unknown)
            outermost = self._local.depth == 1  # else the enclosing writing() bumps
            try:
                for article_id in wanted:
                    self.delete_article(article_id)
            except BaseException:
                if outermost:  # some may be gone: tell readers, but keep the error
                    with contextlib.suppress(Exception):
                        self.bump_generation()
                raise
            if outermost:
                self.bump_generation()
        return len(wanted)

    def _delete(self, article_id: str) -> None:
        with self._chroma() as collection:
            collection.delete(where={"article_id": article_id})
        self.lexical.delete_article(article_id)

    def _max_batch(self) -> int:
        try:
            return int(self._conn.client.get_max_batch_size())
        except Exception:  # noqa: BLE001
            return 1000

    @staticmethod
    def _metadata(
        article: Article, chunk: Chunk, n_chunks: int, article_hash: str
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "article_id": article.id,
            "title": article.title,
            "hash": article_hash,
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
        with self._chroma() as collection:
            return int(collection.count())

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
                          "path": meta.get("path"), "title": str(meta.get("title", "")),
                          "date": meta.get("date"), "source": meta.get("source"),
                          "url": meta.get("url")}
                )  # fmt: skip
                if meta.get("hash") != s["hash"]:
                    s["hash"] = "mixed"  # half-replaced: treat as changed
                s["present"] += 1
        return {
            aid: ArticleState(aid, s["hash"], int(s["n"]), s["present"], s["path"], s["title"],
                              s["date"], s["source"], s["url"])
            for aid, s in states.items()
        }  # fmt: skip

    def list_articles(self) -> list[ArticleInfo]:
        """Every article in the index, newest first (undated ones last), then by title."""
        infos = [
            ArticleInfo(s.article_id, s.title, s.date, s.source, s.url, s.present)
            for s in self.articles().values()
        ]
        infos.sort(key=lambda a: (a.title.casefold(), a.id))
        # Stable, also in reverse: equal dates keep the title order; "" (no date) sorts last.
        infos.sort(key=lambda a: a.date or "", reverse=True)
        return infos

    def _iter_metadatas(
        self, page: int = 5000, where: dict[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        offset = 0
        while True:
            with self._chroma() as collection:
                got = collection.get(include=["metadatas"], where=where, limit=page, offset=offset)
            metas = got.get("metadatas") or []
            if not metas:
                return
            yield [dict(m or {}) for m in metas]
            offset += len(metas)
            if len(metas) < page:
                return

    def sources(self) -> list[str]:
        found: set[str] = set()
        for metas in self._iter_metadatas():
            found.update(str(m["source"]) for m in metas if m.get("source"))
        return sorted(found)

    # --- reading ---------------------------------------------------------------------------

    def dense_search(
        self, vector: Sequence[float], k: int, *, sources: Sequence[str] | None = None,
        date_from: str | None = None, date_to: str | None = None,
        articles: Sequence[str] | None = None,
    ) -> list[Hit]:  # fmt: skip
        if k <= 0:
            return []
        with self._chroma() as collection:
            result = collection.query(
                query_embeddings=[list(map(float, vector))],
                n_results=k,
                where=_where(sources, date_from, date_to, articles),
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
        def search() -> list[tuple[str, float]]:
            return self.lexical.search(
                terms, k, sources=sources, date_from=date_from, date_to=date_to
            )

        if self.lexical.needs_rebuild:
            self.sync_lexical()
        found = search()
        if self.lexical.needs_rebuild:  # the file turned out damaged during this search
            self.sync_lexical()
            found = search()
        return found

    def get_hits(
        self, chunk_ids: Sequence[str], *, query_vector: Sequence[float] | None = None
    ) -> list[Hit]:
        """The chunks with these ids, in this order; with ``query_vector``, each hit's ``dense``
        is its cosine similarity to it (vectors are normalised)."""
        if not chunk_ids:
            return []
        include = ["documents", "metadatas"] + (["embeddings"] if query_vector is not None else [])
        with self._chroma() as collection:
            got = collection.get(ids=list(chunk_ids), include=include)
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

    def article_chunks(self, article_id: str) -> list[Hit]:
        """Every chunk of one article, in reading order (the answerer reads whole articles)."""
        with self._chroma() as collection:
            got = collection.get(
                where={"article_id": article_id}, include=["documents", "metadatas"]
            )
        hits = [
            _hit(i, d, m or {})
            for i, d, m in zip(
                got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True
            )
        ]
        return sorted(hits, key=lambda h: h.start)

    # --- keeping in step with other processes ----------------------------------------------

    def _fresh_collection(self) -> Any:
        """The collection as it is now (another process may have changed or replaced it)."""
        with self._chroma():
            collection = _get_collection(self._conn.client, self._name)
        if collection is None:
            raise IndexEmptyError(_empty_message(self.settings))
        return collection

    def bump_generation(self) -> None:
        """Tell other processes that the index changed: a new generation token on the collection.

        ``collection.modify(metadata=...)`` replaces the whole metadata (and refuses ``hnsw:*``
        keys), so the token is written together with a fresh copy of the other keys.
        """
        fresh = self._fresh_collection()
        metadata = {k: v for k, v in (fresh.metadata or {}).items() if not k.startswith("hnsw:")}
        previous = _generation_of(fresh)
        generation = _new_generation(previous)
        with self._chroma():
            fresh.modify(metadata={**metadata, GENERATION_KEY: generation})
        # Whoever was in step before this write is in step after it (it made the write).
        if self._conn.seen.get(self._name) == previous:
            self._conn.seen[self._name] = generation
        if self.lexical.get_meta("synced_generation") == str(previous):
            self.lexical.set_meta("synced_generation", str(generation))

    def refresh_if_changed(self, *, min_interval_s: float = 0.0) -> bool:
        """Catch up when another process changed the index; cheap enough to call per question
        (one metadata read). Embedded: reopens the client. Both modes: syncs the lexical side."""
        now = time.monotonic()
        if now - self._checked_at < min_interval_s and not self.lexical.needs_rebuild:
            return False
        self._checked_at = now
        with self._conn.refresh_lock:
            fresh = self._fresh_collection()
            generation = _generation_of(fresh)
            replaced = str(fresh.id) != str(self._collection.id)
            stale_client = replaced or generation != self._conn.seen.get(self._name)
            stale_lexical = self.lexical.needs_rebuild or self.lexical.get_meta(
                "synced_generation"
            ) != str(generation)
            if not stale_client and not stale_lexical:
                return False
            log.info("index %s changed (generation %s); catching up", self._conn.where, generation)
            if stale_client and not self._conn.url:
                self._conn.reopen()
                fresh = self._fresh_collection()
            if replaced:  # rebuilt with --reset by another process: apply the model guard again
                _check_spec(self.spec, fresh, self._name, for_writing=False)
            with self._conn.lock.shared():
                self._collection = fresh
                self._epoch = self._conn.epoch
            self._conn.seen[self._name] = generation
        self.sync_lexical()
        return True

    def sync_lexical(self) -> int:
        """Make the lexical index hold exactly Chroma's chunks. Returns how many rows changed.

        Cheap when nothing changed (two counts and two metadata values). Otherwise it compares
        every chunk id, and every article's hash (read from its first chunk), with Chroma's, and
        re-reads from Chroma what is missing or stale.
        """
        with self._sync_lock:
            fresh = self._fresh_collection()
            generation = str(_generation_of(fresh))
            lexical = self.lexical
            synced = lexical.get_meta("synced_generation")
            behind = synced != generation or lexical.get_meta("collection_id") != str(fresh.id)
            if not behind and not lexical.needs_rebuild and lexical.count() == self.count():
                return 0
            # Behind another writer, or a server cache seen for the first time: expected. A
            # lost, damaged or half-written file (a crash between the two writes): worth a warning.
            expected = (
                behind
                and not lexical.needs_rebuild
                and (synced is not None or bool(self._conn.url))
            )
            # 1. what Chroma has: every chunk id, and each article's hash
            with self._chroma() as collection:
                chroma_ids = set(collection.get(include=[])["ids"])
            heads: dict[str, str] = {}
            for metas in self._iter_metadatas(where={"chunk_index": 0}):
                heads.update((str(m["article_id"]), str(m.get("hash", ""))) for m in metas)
            # 2. what the lexical index has, and the difference
            rows = lexical.chunk_hashes()
            extra = rows.keys() - chroma_ids
            stale = {
                aid
                for cid, (aid, h) in rows.items()
                if cid in chroma_ids and heads.get(aid, h) != h
            }
            missing = (chroma_ids - rows.keys()) | {
                cid for cid, (aid, _) in rows.items() if aid in stale and cid in chroma_ids
            }
            changed = len(extra) + len(missing)
            if changed:
                level = logging.INFO if expected else logging.WARNING
                log.log(
                    level, "lexical index %s out of step with Chroma (%d missing, %d extra, "
                    "%d articles replaced); repairing", lexical.path, len(missing), len(extra),
                    len(stale),
                )  # fmt: skip
            # 3. repair
            lexical.delete_chunks(extra)
            for aid in stale:
                lexical.delete_article(aid)
            ordered = sorted(missing)
            for i in range(0, len(ordered), 1000):
                lexical.add(self._lexical_rows(ordered[i : i + 1000]))
            lexical.set_meta("collection_id", str(fresh.id))
            lexical.set_meta("synced_generation", generation)
            lexical.mark_rebuilt()
            return changed

    def _lexical_rows(self, chunk_ids: Sequence[str]) -> list[LexicalRow]:
        with self._chroma() as collection:
            got = collection.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        rows = []
        for chunk_id, doc, meta in zip(got["ids"], got["documents"] or [], got["metadatas"] or [],
                                       strict=True):  # fmt: skip
            meta = meta or {}
            rows.append(
                LexicalRow(
                    chunk_id,
                    str(meta.get("article_id", "")),
                    analyze(str(meta.get("title", "")) + "\n" + (doc or "")),
                    meta.get("source"),
                    meta.get("date"),
                    str(meta.get("hash", "")),
                )
            )
        return rows


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
