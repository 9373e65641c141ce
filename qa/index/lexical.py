"""The BM25 side of hybrid search: a SQLite FTS5 index over the same chunks as Chroma.

SQLite is used because it gives, for free, what a hand-made BM25 file would have to re-invent:
incremental inserts and deletes (ingest never rebuilds it), crash-safe transactions, readers in
other processes that see new rows at once (WAL), and document frequencies (``fts5vocab``).

Chunks are stored as pre-analysed terms (``qa.text.analyze``: folded, lemmatised, stemmed, stop
words removed), so FTS5's own tokenizer only splits on spaces and both sides agree exactly. Each
row also keeps the hash of its article's text, so that ``qa.index.store`` can tell a replaced
article from an unchanged one without reading every chunk back from Chroma.

The index is derived data: it can always be rebuilt from Chroma (see ``qa.index.store``). That is
why a
corrupt or foreign file is not an error here: it is moved aside with a warning, an empty index
takes its place, and ``needs_rebuild`` tells the store to fill it again. An index written by an
older version of this module is emptied (and then rebuilt) the same way.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"  # 2: chunks.hash added

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL,
    hash TEXT NOT NULL DEFAULT '',
    source TEXT,
    date TEXT
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(terms, tokenize='unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(fts, 'row');
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_DROP = """
DROP TABLE IF EXISTS vocab; DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS chunks;
DROP TABLE IF EXISTS meta;
"""

# Errors that mean "this file is damaged", as opposed to "busy" or "bad SQL".
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}

T = TypeVar("T")


@dataclass(frozen=True)
class LexicalRow:
    chunk_id: str
    article_id: str
    terms: Sequence[str]
    source: str | None = None
    date: str | None = None
    hash: str = ""  # the article's content hash (``Article.hash``)


def is_corruption(err: BaseException) -> bool:
    """True when SQLite says the file itself is damaged or is not a database."""
    if not isinstance(err, sqlite3.DatabaseError):
        return False
    name = getattr(err, "sqlite_errorname", "") or ""
    return name.split("(")[0] in _CORRUPT or type(err) is sqlite3.DatabaseError


class LexicalIndex:
    """Thread-safe; one instance per process and file.

    Every public method survives a damaged file: the file is moved aside (``*.corrupt-<time>``),
    an empty index replaces it and ``needs_rebuild`` becomes True until the owner calls
    ``mark_rebuilt``. The method is then retried once on the empty index.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.needs_rebuild = False
        self._db: sqlite3.Connection | None = None
        with self._lock:
            try:
                self._open()
            except sqlite3.DatabaseError as err:
                if not is_corruption(err):
                    raise
                self._recover(err)

    # --- the connection, and recovery from a damaged file ----------------------------------

    def _open(self) -> None:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db = db
        db.execute("PRAGMA busy_timeout=10000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            if row is not None or self._count(db):
                log.info("lexical index %s has an older layout; it is rebuilt", self.path)
                self.needs_rebuild = True
            self._reset_tables(db)

    @staticmethod
    def _count(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    @staticmethod
    def _reset_tables(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in (_DROP + _SCHEMA).split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)",
                       (SCHEMA_VERSION,))  # fmt: skip
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _recover(self, err: BaseException) -> None:
        """Move the damaged file (and its WAL) aside and start an empty index in its place."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        log.warning(
            "lexical index %s is damaged (%s); moved it to %s and rebuilding it from Chroma",
            self.path, err, aside.name,
        )  # fmt: skip
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.replace(aside.with_name(aside.name + suffix))
        self.needs_rebuild = True
        self._open()

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            assert self._db is not None, "the lexical index is closed"
            try:
                return fn(self._db)
            except sqlite3.DatabaseError as err:
                if not is_corruption(err):
                    raise
                self._recover(err)
                return fn(self._db)

    def mark_rebuilt(self) -> None:
        """The owner refilled the index after a recovery."""
        self.needs_rebuild = False

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- writing ---------------------------------------------------------------------------

    def add(self, rows: Iterable[LexicalRow]) -> None:
        """Insert or replace rows, all in one transaction."""
        rows = list(rows)

        def add(db: sqlite3.Connection) -> None:
            with _transaction(db):
                for row in rows:
                    _delete_where(db, "chunk_id = ?", (row.chunk_id,))
                    cur = db.execute(
                        "INSERT INTO chunks(chunk_id, article_id, hash, source, date) "
                        "VALUES (?,?,?,?,?)",
                        (row.chunk_id, row.article_id, row.hash, row.source, row.date),
                    )
                    db.execute(
                        "INSERT INTO fts(rowid, terms) VALUES (?, ?)",
                        (cur.lastrowid, " ".join(row.terms)),
                    )

        self._run(add)

    def delete_article(self, article_id: str) -> None:
        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                _delete_where(db, "article_id = ?", (article_id,))

        self._run(delete)

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        chunk_ids = list(chunk_ids)

        def delete(db: sqlite3.Connection) -> None:
            with _transaction(db):
                for chunk_id in chunk_ids:
                    _delete_where(db, "chunk_id = ?", (chunk_id,))

        self._run(delete)

    def clear(self) -> None:
        self._run(self._reset_tables)

    # --- reading ---------------------------------------------------------------------------

    def search(
        self,
        terms: Sequence[str],
        k: int,
        *,
        sources: Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk_id, bm25 score; higher is better) of the best ``k`` chunks for ``terms``."""
        unique = sorted({t for t in terms if t})
        if not unique or k <= 0:
            return []
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in unique)
        where, args = ["fts MATCH ?"], [match]
        if sources:
            where.append(f"c.source IN ({','.join('?' * len(sources))})")
            args += list(sources)
        if date_from:
            where.append("c.date >= ?")
            args.append(date_from)
        if date_to:
            where.append("c.date <= ?")
            args.append(date_to + "\uffff")
        sql = (
            "SELECT c.chunk_id, bm25(fts) AS s FROM fts JOIN chunks c ON c.rowid = fts.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY s LIMIT ?"
        )
        rows = self._run(lambda db: db.execute(sql, (*args, k)).fetchall())
        return [(chunk_id, -score) for chunk_id, score in rows]

    def doc_freqs(self, terms: Iterable[str]) -> dict[str, int]:
        unique = sorted(set(terms))
        if not unique:
            return {}
        sql = f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(unique))})"
        rows = self._run(lambda db: db.execute(sql, unique).fetchall())
        return {term: doc for term, doc in rows}

    def article_terms(self, article_id: str, terms: Iterable[str]) -> set[str]:
        """Which of ``terms`` occur anywhere in the article's chunks (one query per term)."""
        unique = sorted({t for t in terms if t})
        sql = (
            "SELECT 1 FROM fts JOIN chunks c ON c.rowid = fts.rowid "
            "WHERE fts MATCH ? AND c.article_id = ? LIMIT 1"
        )

        def find(db: sqlite3.Connection) -> set[str]:
            return {
                term
                for term in unique
                if db.execute(sql, ('"' + term.replace('"', "") + '"', article_id)).fetchone()
            }

        return self._run(find)

    def count(self) -> int:
        return self._run(self._count)

    def chunk_ids(self) -> set[str]:
        return self._run(lambda db: {r[0] for r in db.execute("SELECT chunk_id FROM chunks")})

    def chunk_hashes(self) -> dict[str, tuple[str, str]]:
        """chunk id -> (article id, article hash) for every row."""
        sql = "SELECT chunk_id, article_id, hash FROM chunks"
        return self._run(lambda db: {r[0]: (r[1], r[2]) for r in db.execute(sql)})

    def get_meta(self, key: str) -> str | None:
        sql = "SELECT value FROM meta WHERE key = ?"
        row = self._run(lambda db: db.execute(sql, (key,)).fetchone())
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        sql = "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)"
        self._run(lambda db: db.execute(sql, (key, value)))


class _transaction:  # noqa: N801 - a context manager
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (the connection is in autocommit)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            # a damaged file may refuse even this; the caller recovers
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")


def _delete_where(db: sqlite3.Connection, where: str, args: tuple[str, ...]) -> None:
    rowids = [r[0] for r in db.execute(f"SELECT rowid FROM chunks WHERE {where}", args)]
    for rowid in rowids:
        db.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
        db.execute("DELETE FROM chunks WHERE rowid = ?", (rowid,))
