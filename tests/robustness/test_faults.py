"""Faults and load: kill -9 during ingest, a lost or damaged BM25 file, an index built for another
model, two processes writing one embedded index in turn, and many users asking at once.

Each test says what a user would notice: the index opens, nothing is half there or there twice,
searches keep working, and the error, when there is one, says in Dutch what to do.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import queue
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from ingest.pipeline import ingest_paths
from qa.errors import IndexMismatchError
from qa.index.store import ChunkStore, IndexSpec, lexical_path, open_store, spec_for
from qa.pipeline import Pipeline
from qa.settings import Settings
from qa.text import analyze
from qa.types import Article, Chunk
from tests.conftest import NOS_ARTICLE, SAMPLE_DIR, BagOfWordsEmbeddings, OverlapReader
from tests.robustness.chroma_server import write_writer_script, writer_command

TOWNS = (
    "Assen", "Breda", "Delft", "Emmen", "Goes", "Hoorn", "Kampen", "Leiden", "Meppel", "Oss",
    "Putten", "Sneek", "Tiel", "Urk", "Venlo", "Weert", "Zwolle", "Almelo", "Baarn", "Doetinchem",
)  # fmt: skip


def _open(settings: Settings, emb: BagOfWordsEmbeddings, **kw: bool) -> ChunkStore:
    return open_store(settings, spec_for(settings, emb), for_writing=True, **kw)


def _snapshot(store: ChunkStore) -> dict[str, tuple[str, str]]:
    """chunk id -> (article hash, text): everything a user could get back from the index."""
    got = store._collection.get(include=["documents", "metadatas"])  # noqa: SLF001
    return {
        i: (str((m or {}).get("hash")), d or "")
        for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    }


def _assert_consistent(store: ChunkStore) -> None:
    """Chroma and the BM25 side hold the same chunks, and every vector can be found."""
    ids = set(store._collection.get(include=[])["ids"])  # noqa: SLF001
    assert store.lexical.chunk_ids() == ids
    assert store.lexical.count() == store.count() == len(ids)
    if ids:
        # the vector index finds every chunk, not just the ones it had before (HNSW in step)
        found = store._collection.query(  # noqa: SLF001
            query_embeddings=[[1.0] + [0.0] * 255], n_results=len(ids), include=[]
        )["ids"][0]
        assert set(found) == ids


# --- 1. kill -9 during ingest -----------------------------------------------------------------


@pytest.fixture(scope="module")
def forty_articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 small articles of one to three chunks each (some longer, so some have several)."""
    folder = tmp_path_factory.mktemp("forty")
    rng = random.Random(40)
    for n in range(40):
        town = TOWNS[n % len(TOWNS)]
        sentences = [
            f"In {town} opende wethouder {rng.choice(TOWNS)}sma op dag {i} de nieuwe "
            f"{rng.choice(['brug', 'school', 'haven', 'markt'])} nummer {n}."
            for i in range(rng.choice([3, 12, 30]))
        ]
        (folder / f"artikel-{n:02d}.txt").write_text(" ".join(sentences), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def reference(forty_articles: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """The same 40 articles ingested once without interruption."""
    emb = BagOfWordsEmbeddings()
    folder = tmp_path_factory.mktemp("reference")
    settings = Settings(index_dir=folder / "index", model_cache=folder / "cache")
    store = _open(settings, emb)
    summary = ingest_paths([forty_articles], store=store, embeddings=emb, settings=settings)
    assert summary.added == 40
    return _snapshot(store)


class _Forks:
    """The writer script in --forks mode: one child process per ingest, killable at will."""

    def __init__(self, script: Path) -> None:
        self.process = subprocess.Popen(
            writer_command(script, "--forks"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = False  # it imports while the test prepares; ingest() waits for it

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def next(self, timeout: float = 60) -> dict[str, Any]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            err = self.process.stderr.read() if self.process.poll() is not None else ""  # type: ignore[union-attr]
            raise AssertionError(f"the writer said nothing for {timeout} s {err}") from None

    def ingest(self, **request: Any) -> int:
        if not self.ready:
            assert self.next(timeout=120).get("ready"), "the writer did not start"
            self.ready = True
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return int(self.next()["child"])

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def forks(tmp_path: Path) -> Iterator[_Forks]:
    f = _Forks(write_writer_script(tmp_path))
    yield f
    f.close()


@pytest.mark.slow
def test_kill_9_during_ingest_leaves_an_index_that_opens_and_a_rerun_completes(
    forks: _Forks,
    forty_articles: Path,
    reference: dict,
    tmp_path: Path,  # type: ignore[type-arg]
) -> None:
    emb = BagOfWordsEmbeddings()
    rng = random.Random(9)
    killed: list[tuple[int, int, int]] = []  # (written, in the index, incomplete) at each kill
    for trial, target in enumerate([0, 2, 11, 24, 33, 39]):
        index = tmp_path / f"trial-{trial}"
        settings = Settings(index_dir=index, model_cache=tmp_path / "cache")
        # 1. a child ingests the 40 articles and is killed after it has written a given number,
        #    a random moment later (while chunking, embedding, writing Chroma or BM25)
        pid = forks.ingest(index=str(index), paths=[str(forty_articles)])
        done = 0
        while done < target:
            message = forks.next()
            assert "exit" not in message, "the child ended before it was killed"
            done = message.get("written", done)
        time.sleep(rng.uniform(0.0, 0.1))
        with contextlib.suppress(ProcessLookupError):  # it may just have finished
            os.kill(pid, signal.SIGKILL)
        while "exit" not in (message := forks.next()):
            pass

        # 2. the index opens; both sides agree; every article is whole or will be redone
        store = _open(settings, emb)
        _assert_consistent(store)
        states = store.articles()
        incomplete = [s for s in states.values() if not s.complete]
        if os.WIFSIGNALED(message["status"]):
            killed.append((done, len(states), len(incomplete)))

        # 3. a re-run completes it: nothing missing, nothing twice, same as a clean ingest
        rerun = ingest_paths([forty_articles], store=store, embeddings=emb, settings=settings)
        assert rerun.added + rerun.updated == 40 - len(states) + len(incomplete)
        assert rerun.unchanged == len(states) - len(incomplete)
        assert _snapshot(store) == reference
        _assert_consistent(store)
        store.lexical.close()
    assert len(killed) >= 5, killed  # at least five real kills, at different points
    assert len({n for _, n, _ in killed}) >= 4, killed
    print(f"killed at (articles written, in the index, incomplete): {killed}")


# --- 2. a lost or damaged BM25 file -----------------------------------------------------------


@pytest.fixture
def filled(settings: Settings, fake_embeddings: BagOfWordsEmbeddings) -> Settings:
    store = _open(settings, fake_embeddings)
    ingest_paths([NOS_ARTICLE], store=store, embeddings=fake_embeddings, settings=settings)
    store.lexical.close()
    return settings


def _limousine(store: ChunkStore) -> list[str]:
    found = store.lexical_search(analyze("limousine"), 3)
    return [store.get_hits([c])[0].article_id for c, _ in found]


def test_a_deleted_bm25_file_is_rebuilt_from_chroma(
    filled: Settings, fake_embeddings: BagOfWordsEmbeddings, caplog: pytest.LogCaptureFixture
) -> None:
    lexical_path(filled).unlink()
    with caplog.at_level(logging.WARNING, logger="qa.index.store"):
        store = _open(filled, fake_embeddings)
    assert "out of step" in caplog.text and "repairing" in caplog.text
    _assert_consistent(store)
    assert _limousine(store) == [NOS_ARTICLE.name]


@pytest.mark.parametrize("damage", ["garbage", "zeros", "truncated", "pages"])
def test_a_damaged_bm25_file_is_moved_aside_and_rebuilt(
    filled: Settings, fake_embeddings: BagOfWordsEmbeddings, caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:  # fmt: skip
    path = lexical_path(filled)
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data = bytearray(random.Random(1).randbytes(len(data)))
    elif damage == "zeros":
        data = bytearray(len(data))
    elif damage == "truncated":
        data = data[:1000]
    else:  # pages inside the file, the header intact
        data[4096:] = random.Random(2).randbytes(len(data) - 4096)
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        store = _open(filled, fake_embeddings)
        hits = _limousine(store)  # damage inside the file shows only when it is read
    assert hits == [NOS_ARTICLE.name]
    _assert_consistent(store)
    assert "rebuilding it from Chroma" in caplog.text or "repairing" in caplog.text
    if damage != "pages":
        assert list(path.parent.glob(path.name + ".corrupt-*"))


def test_a_bm25_file_damaged_while_the_app_runs_is_rebuilt_at_the_latest_on_restart(
    filled: Settings, fake_embeddings: BagOfWordsEmbeddings, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite notices damage when it reads the damaged pages; until then the running app answers
    from its cache, and at the latest the next start moves the file aside and rebuilds it."""
    store = _open(filled, fake_embeddings)
    pipeline = Pipeline(filled, fake_embeddings, store, reader=OverlapReader())
    assert not pipeline.ask("Wat gaf Poetin aan Kim?").refused
    store.lexical._run(lambda db: db.execute("PRAGMA wal_checkpoint(TRUNCATE)"))  # noqa: SLF001
    path = lexical_path(filled)
    path.write_bytes(random.Random(3).randbytes(path.stat().st_size))
    answer = pipeline.ask("Welke limousine gaf Poetin aan Kim?")
    assert not answer.refused and answer.sources[0].article_id == NOS_ARTICLE.name
    store.lexical.close()
    with caplog.at_level(logging.WARNING):
        restarted = Pipeline(
            filled, fake_embeddings, _open(filled, fake_embeddings), reader=OverlapReader()
        )
    assert "damaged" in caplog.text and list(path.parent.glob(path.name + ".corrupt-*"))
    answer = restarted.ask("Welke limousine gaf Poetin aan Kim?")
    assert not answer.refused and answer.sources[0].article_id == NOS_ARTICLE.name
    _assert_consistent(restarted.store)


def test_a_bm25_file_of_an_older_layout_is_rebuilt(
    filled: Settings, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    import sqlite3

    path = lexical_path(filled)
    for part in path.parent.glob(path.name + "*"):
        part.unlink()
    db = sqlite3.connect(path)  # the layout before chunks.hash existed
    db.executescript(
        "CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, "
        "article_id TEXT NOT NULL, source TEXT, date TEXT);"
        "CREATE VIRTUAL TABLE fts USING fts5(terms, tokenize='unicode61');"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO chunks VALUES (1, 'x-0000', 'x', NULL, NULL);"
        "INSERT INTO fts(rowid, terms) VALUES (1, 'oud');"
    )
    db.close()
    store = _open(filled, fake_embeddings)
    _assert_consistent(store)
    assert _limousine(store) == [NOS_ARTICLE.name] and store.lexical_search(["oud"], 3) == []


# --- 3. an index built for another model or schema --------------------------------------------


def test_an_index_built_with_another_model_is_refused_and_left_alone(
    filled: Settings, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    store = _open(filled, fake_embeddings)
    before = _snapshot(store)
    for other in (
        IndexSpec("intfloat/multilingual-e5-base", 768, filled.chunk_tokens, 1),
        IndexSpec("fake-bag-of-words", 256, filled.chunk_tokens, 1, schema=99),
        IndexSpec("fake-bag-of-words", 256, 400, 1),  # other chunking: refused for writing only
    ):
        with pytest.raises(IndexMismatchError) as err:
            open_store(filled, other, for_writing=True)
        message = str(err.value)
        assert "--reset" in message and "index=" in message and "instellingen=" in message
    # another chunk size can still be read with
    assert open_store(filled, IndexSpec("fake-bag-of-words", 256, 400, 1)).count() > 0
    assert _snapshot(_open(filled, fake_embeddings)) == before


def test_a_collection_not_made_by_vraagbaak_is_refused(
    settings: Settings, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    from qa.index.store import _connection

    # (through the store's own client: a second client with other settings in one process fails)
    conn, _ = _connection(settings)
    conn.client.create_collection("vraagbaak", metadata={"owner": "iemand anders"})
    with pytest.raises(IndexMismatchError, match="niet door Vraagbaak gemaakt"):
        _open(settings, fake_embeddings)


@pytest.mark.integration
def test_the_ingest_command_refuses_an_index_of_another_model_until_reset(
    filled: Settings, fake_embeddings: BagOfWordsEmbeddings, model_cache: Path
) -> None:
    from ingest.cli import main

    before = _snapshot(_open(filled, fake_embeddings))
    argv = [str(NOS_ARTICLE), "--index", str(filled.index_dir), "-q"]
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        code = main(argv)
    assert code == 1  # the index cannot be used: nothing could be done
    line = err.getvalue().strip()
    assert line.startswith("Fout: De index is met andere instellingen gebouwd")
    assert "fake-bag-of-words" in line and "--reset" in line
    assert _snapshot(_open(filled, fake_embeddings)) == before  # nothing overwritten
    with redirect_stderr(io.StringIO()), redirect_stdout(io.StringIO()):
        assert main([*argv, "--reset"]) == 0
    with pytest.raises(IndexMismatchError):  # now it is the real model's index
        _open(filled, fake_embeddings)


# --- 4. two processes write one embedded index in turn ----------------------------------------


_WRITE_ONE = """
import sys
sys.path.insert(0, {repo!r})
sys.modules.setdefault("torch", None)
from pathlib import Path
from qa.settings import Settings
from qa.index.store import open_store
from tests.robustness.test_faults import SPEC, many_chunks
settings = Settings(index_dir=Path({index!r}), model_cache=Path({index!r}) / "cache")
store = open_store(settings, SPEC, for_writing=True)
store.add_article(*many_chunks("b", {n}))
"""

SPEC = IndexSpec("fake-random", 8, 160, 1)


def many_chunks(article_id: str, n: int) -> tuple[Article, list[Chunk], list[list[float]]]:
    """One article of ``n`` tiny chunks with random vectors (more than Chroma's 1000-record
    threshold at which it writes its vector index to disk)."""
    rng = random.Random(article_id)
    text = " ".join(f"Zin {i} over {article_id}." for i in range(n))
    article = Article(id=article_id, text=text, title=article_id)
    chunks = [Chunk(f"{article_id}-{i:05d}", article_id, i, f"Zin {i} over {article_id}.",
                    0, 1, ((0, 1),)) for i in range(n)]  # fmt: skip
    vectors = [[rng.uniform(-1, 1) for _ in range(8)] for _ in range(n)]
    return article, chunks, vectors


@pytest.mark.slow
def test_two_processes_writing_one_embedded_index_in_turn_lose_no_vectors(
    tmp_path: Path,
) -> None:
    """Embedded Chroma never re-reads another process's vectors; a writer that did not catch up
    first would write its stale vector index over theirs (seen with chromadb 1.5: 6001 records
    counted, 3001 found)."""
    import sys

    from qa.settings import REPO_ROOT

    index = tmp_path / "index"
    settings = Settings(index_dir=index, model_cache=index / "cache")
    store = open_store(settings, SPEC, for_writing=True)
    store.add_article(*many_chunks("a", 1100))  # this process, kept open
    script = _WRITE_ONE.format(repo=str(REPO_ROOT), index=str(index), n=1100)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)  # another process
    store.add_article(*many_chunks("c", 1100))  # this process again
    assert store.count() == 3300
    found = store.dense_search([0.5] * 8, 3300)
    assert len(found) == 3300
    check = (
        "import sys; sys.path.insert(0, {repo!r}); sys.modules.setdefault('torch', None)\n"
        "import chromadb\n"
        "c = chromadb.PersistentClient(path={path!r}).get_collection('vraagbaak')\n"
        "print(len(c.query(query_embeddings=[[0.5] * 8], n_results=4000, include=[])['ids'][0]))"
    ).format(repo=str(REPO_ROOT), path=str(index / "chroma"))
    fresh = subprocess.run([sys.executable, "-c", check], check=True, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert fresh.stdout.strip() == "3300"


# --- 5. many users at once ----------------------------------------------------------------------


QUESTIONS = (
    "Wat gaf Poetin aan Kim?",
    "Wanneer bezocht Poetin Noord-Korea eerder?",
    "Waar ligt Spa-Francorchamps?",
    "Wie won de Europese titel?",
    "Welke auto kreeg Kim Jong-un?",
)


def test_five_users_asking_at_once_all_get_answers(sample_pipeline: Pipeline) -> None:
    def user(n: int) -> list[str]:
        return [sample_pipeline.ask(QUESTIONS[(n + i) % len(QUESTIONS)]).answer for i in range(3)]

    with ThreadPoolExecutor(max_workers=5) as pool:
        answers = [a for batch in pool.map(user, range(5)) for a in batch]
    assert len(answers) == 15 and all(answers)
    alone = sample_pipeline.ask(QUESTIONS[0]).answer
    assert answers[0] == alone  # the same answer as when asked alone


def test_questions_during_writes_and_reopens_are_safe(
    settings: Settings, fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path
) -> None:
    """Asking while this process writes and while it reopens its client never fails."""
    store = _open(settings.replace(refresh_s=0.0), fake_embeddings)
    ingest_paths([SAMPLE_DIR], store=store, embeddings=fake_embeddings, settings=settings)
    pipeline = Pipeline(
        settings.replace(refresh_s=0.0), fake_embeddings, store, reader=OverlapReader()
    )
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                assert pipeline.ask("Wat gaf Poetin aan Kim?").sources
            except BaseException as err:  # noqa: BLE001 - collected and asserted below
                errors.append(err)

    users = [threading.Thread(target=ask) for _ in range(3)]
    for u in users:
        u.start()
    try:
        for n in range(3):
            store._conn.reopen()  # noqa: SLF001 - what a change by another process triggers
            article = Article(id=f"extra-{n}", text=f"Een extra bericht nummer {n} over Kim.")
            store.add_article(article, *_one_chunk(article, fake_embeddings))
    finally:
        stop.set()
        for u in users:
            u.join(timeout=30)
    assert not errors, errors[:3]


def _one_chunk(article: Article, emb: BagOfWordsEmbeddings) -> tuple[list[Chunk], list[Any]]:
    chunk = Chunk(f"{article.id}-0", article.id, 0, article.text, 0, len(article.text),
                  ((0, len(article.text)),))  # fmt: skip
    return [chunk], emb.embed_documents([article.text])
