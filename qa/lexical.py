"""The BM25 side of hybrid search: a SQLite FTS5 index over the same chunks as Chroma.

SQLite is used because it gives, for free, what a hand-made BM25 file would have to re-invent:
incremental inserts and deletes (ingest never rebuilds it), crash-safe transactions, readers in
other processes that see new rows at once (WAL), and document frequencies (``fts5vocab``).

Chunks are stored as pre-analysed terms (``qa.text.analyze``: folded, lemmatised, stemmed, stop
words removed), so FTS5's own tokenizer only splits on spaces and both sides agree exactly.
The index is derived data: it can always be rebuilt from Chroma (see ``qa.store``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT UNIQUE NOT NULL,
    article_id TEXT NOT NULL,
    source TEXT,
    date TEXT
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(terms, tokenize='unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS vocab USING fts5vocab(fts, 'row');
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass(frozen=True)
class LexicalRow:
    chunk_id: str
    article_id: str
    terms: Sequence[str]
    source: str | None = None
    date: str | None = None


class LexicalIndex:
    """Thread-safe; one instance per process and file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing ---------------------------------------------------------------------------

    def add(self, rows: Iterable[LexicalRow]) -> None:
        """Insert or replace rows, all in one transaction."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    self._delete_where("chunk_id = ?", (row.chunk_id,))
                    cur = db.execute(
                        "INSERT INTO chunks(chunk_id, article_id, source, date) VALUES (?,?,?,?)",
                        (row.chunk_id, row.article_id, row.source, row.date),
                    )
                    db.execute(
                        "INSERT INTO fts(rowid, terms) VALUES (?, ?)",
                        (cur.lastrowid, " ".join(row.terms)),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def delete_article(self, article_id: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._delete_where("article_id = ?", (article_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def delete_chunks(self, chunk_ids: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for chunk_id in chunk_ids:
                    self._delete_where("chunk_id = ?", (chunk_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _delete_where(self, where: str, args: tuple[str, ...]) -> None:
        rowids = [r[0] for r in self._db.execute(f"SELECT rowid FROM chunks WHERE {where}", args)]
        for rowid in rowids:
            self._db.execute("DELETE FROM fts WHERE rowid = ?", (rowid,))
            self._db.execute("DELETE FROM chunks WHERE rowid = ?", (rowid,))

    def clear(self) -> None:
        with self._lock:
            self._db.executescript(
                "DROP TABLE IF EXISTS vocab; DROP TABLE IF EXISTS fts; DROP TABLE IF EXISTS chunks;"
                "DROP TABLE IF EXISTS meta;"
            )
            self._db.executescript(_SCHEMA)

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
        with self._lock:
            rows = self._db.execute(sql, (*args, k)).fetchall()
        return [(chunk_id, -score) for chunk_id, score in rows]

    def doc_freqs(self, terms: Iterable[str]) -> dict[str, int]:
        unique = sorted(set(terms))
        if not unique:
            return {}
        with self._lock:
            rows = self._db.execute(
                f"SELECT term, doc FROM vocab WHERE term IN ({','.join('?' * len(unique))})",
                unique,
            ).fetchall()
        return {term: doc for term, doc in rows}

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM chunks").fetchone()[0])

    def chunk_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT chunk_id FROM chunks")}

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
