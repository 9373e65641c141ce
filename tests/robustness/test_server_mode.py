"""Server mode and several processes on one index.

A real ``chroma run`` serves these tests (one per module, a collection per test). Ingest goes
through ``ingest.pipeline.ingest_paths`` with the fake embedder, once through ``python -m ingest
--chroma-url`` with the real model; questions go through ``qa.pipeline.Pipeline.ask``. The
"another process" tests run a second Python process that ingests while this one serves.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from qa.errors import IndexMismatchError, IndexUnavailableError
from qa.index.store import GENERATION_KEY, ChunkStore, IndexSpec, lexical_path, open_store, spec_for
from qa.pipeline import Pipeline
from qa.settings import REPO_ROOT, Settings
from tests.conftest import NOS_ARTICLE, BagOfWordsEmbeddings, OverlapReader
from tests.robustness.chroma_server import ChromaServer, run_writer, write_writer_script

POETIN = "Wat gaf Poetin aan Kim?"
NOS_ID = NOS_ARTICLE.name


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data") as running:
        yield running


@pytest.fixture
def server_settings(server: ChromaServer, tmp_path: Path) -> Settings:
    """This test's own collection on the shared server, and its own local lexical cache."""
    return Settings(
        index_dir=tmp_path / "unused-index", chroma_url=server.url,
        collection=f"t-{uuid.uuid4().hex[:12]}", model_cache=tmp_path / "cache", refresh_s=0.0,
    )  # fmt: skip


def _open(settings: Settings, emb: BagOfWordsEmbeddings, **kw: bool) -> ChunkStore:
    return open_store(settings, spec_for(settings, emb), for_writing=True, **kw)


def _article_text(subject: str, n: int = 4) -> str:
    return " ".join(
        f"De gemeente {subject} meldt op dag {i} dat de {subject}brug weer open is."
        for i in range(n)
    )


# --- 1. the whole chain through a server ------------------------------------------------------


def test_ingest_and_ask_through_a_chroma_server(
    server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path
) -> None:
    store = _open(server_settings, fake_embeddings)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("noord", "zuid", "oost"):
        (docs / f"{name}.txt").write_text(_article_text(name), encoding="utf-8")
    summary = ingest_paths(
        [NOS_ARTICLE, docs], store=store, embeddings=fake_embeddings, settings=server_settings
    )
    assert summary.added == 4 and not summary.skipped
    # the BM25 side lives in a local cache for this server and collection, in step with it
    assert lexical_path(server_settings).is_file()
    assert store.lexical.count() == store.count() == summary.chunks
    answer = Pipeline(server_settings, fake_embeddings, store, reader=OverlapReader()).ask(POETIN)
    assert not answer.refused and answer.cited  # (what it picks is the answerer's business)
    assert answer.sources[0].article_id == NOS_ID


def test_reingest_through_the_server_is_idempotent(
    server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("noord", "zuid", "oost"):
        (folder / f"{name}.txt").write_text(_article_text(name), encoding="utf-8")
    store = _open(server_settings, fake_embeddings)
    first = ingest_paths(
        [folder], store=store, embeddings=fake_embeddings, settings=server_settings
    )
    # a second process (a fresh store object) re-runs the same ingest: nothing changes
    again = ingest_paths(
        [folder], store=_open(server_settings, fake_embeddings), embeddings=fake_embeddings,
        settings=server_settings,
    )  # fmt: skip
    assert (first.added, again.added, again.updated, again.unchanged) == (3, 0, 0, 3)
    assert again.chunks == first.chunks == store.count() == store.lexical.count()
    # a changed article replaces its old chunks, on the server and in the BM25 cache
    (folder / "zuid.txt").write_text(_article_text("tunnel"), encoding="utf-8")
    changed = ingest_paths(
        [folder], store=store, embeddings=fake_embeddings, settings=server_settings
    )
    assert (changed.updated, changed.unchanged) == (1, 2)
    assert store.count() == store.lexical.count() == first.chunks
    assert store.lexical_search(["zuidbrug"], 5) == []
    assert store.lexical_search(["tunnelbrug"], 5)


def test_generation_bumps_keep_the_model_guard_and_the_distance(
    server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings, server: ChromaServer
) -> None:
    """``collection.modify(metadata=...)`` replaces the whole metadata and refuses hnsw keys:
    after many writes the spec must still be there, and the space still cosine."""
    import chromadb

    store = _open(server_settings, fake_embeddings)
    ingest_paths([NOS_ARTICLE], store=store, embeddings=fake_embeddings, settings=server_settings)
    store.delete_article(NOS_ID)
    ingest_paths([NOS_ARTICLE], store=store, embeddings=fake_embeddings, settings=server_settings)
    client = chromadb.HttpClient(host="127.0.0.1", port=server.port)
    collection = client.get_collection(server_settings.collection)
    spec = spec_for(server_settings, fake_embeddings)
    assert IndexSpec.from_metadata(collection.metadata) == spec
    assert collection.metadata[GENERATION_KEY] > 0
    hnsw = collection.configuration.get("hnsw") or {}
    assert hnsw.get("space") == "cosine"
    hits = store.dense_search(fake_embeddings.embed_query("limousine Aurus Kim"), 3)
    assert hits and 0.0 < hits[0].dense <= 1.0  # cosine similarity, not an L2 distance


def test_model_guard_on_the_server(
    server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    store = _open(server_settings, fake_embeddings)
    ingest_paths([NOS_ARTICLE], store=store, embeddings=fake_embeddings, settings=server_settings)
    before = store.count()
    other = IndexSpec("intfloat/multilingual-e5-base", 768, server_settings.chunk_tokens, 1)
    with pytest.raises(IndexMismatchError) as err:
        open_store(server_settings, other, for_writing=True)
    message = str(err.value)
    assert "multilingual-e5-base" in message and "fake-bag-of-words" in message
    assert "--reset" in message and "instellingen" in message
    assert store.count() == before  # nothing was touched
    fresh = open_store(server_settings, other, for_writing=True, reset=True)
    assert fresh.count() == 0 and fresh.lexical.count() == 0


def test_a_lexical_cache_behind_the_server_catches_up(
    server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path
) -> None:
    """Another machine (its own local cache) adds, replaces and deletes articles; this one's
    BM25 cache follows, even when a replaced article keeps the same chunk ids."""
    app = _open(server_settings, fake_embeddings)
    other = server_settings.replace(model_cache=tmp_path / "other-machine")
    writer = _open(other, fake_embeddings)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(_article_text("brug"), encoding="utf-8")
    (docs / "b.txt").write_text(_article_text("dijk"), encoding="utf-8")
    ingest_paths([docs], store=writer, embeddings=fake_embeddings, settings=other)
    assert app.refresh_if_changed()
    assert {a for a, _ in _lexical_articles(app)} == {"a.txt", "b.txt"}
    # same length, other words: the same chunk ids, another hash
    (docs / "a.txt").write_text(_article_text("sluis"), encoding="utf-8")
    (docs / "b.txt").unlink()
    ingest_paths([docs], store=writer, embeddings=fake_embeddings, settings=other, prune=True)
    assert app.refresh_if_changed()
    assert app.lexical_search(["brugbrug", "brug"], 5) == []
    assert [app.get_hits([c])[0].article_id for c, _ in app.lexical_search(["sluis"], 5)]
    assert app.lexical.count() == app.count() == writer.count()
    assert not app.refresh_if_changed()  # nothing new: nothing to do


def test_list_and_remove_through_a_chroma_server(
    server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``python -m ingest --list/--remove --chroma-url``, as run on another machine (its own
    caches): the app serving the collection stops finding a removed article at once."""
    from ingest.cli import main
    from ingest.feeds import FeedState, state_path

    app = _open(server_settings, fake_embeddings)
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("noord", "zuid", "oost"):
        (docs / f"{name}.txt").write_text(_article_text(name), encoding="utf-8")
    ingest_paths([docs], store=app, embeddings=fake_embeddings, settings=server_settings)
    monkeypatch.setenv("VRAAGBAAK_MODEL_CACHE", str(tmp_path / "other-machine"))
    target = ["--chroma-url", server_settings.chroma_url or "", "--collection",
              server_settings.collection]  # fmt: skip

    def listed() -> dict[str, int]:
        assert main(["--list", "--json", *target]) == 0
        articles = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["articles"]
        return {a["id"]: a["chunks"] for a in articles}

    assert listed().keys() == {"noord.txt", "zuid.txt", "oost.txt"}
    assert main(["--remove", "zuid.txt", "west.txt", *target]) == 2
    assert "'west.txt'" in capsys.readouterr().err
    assert len(listed()) == 3  # nothing removed
    assert main(["--remove", "zuid.txt", *target]) == 0
    assert listed().keys() == {"noord.txt", "oost.txt"}
    assert app.refresh_if_changed()
    assert app.lexical_search(["zuidbrug"], 5) == []
    assert app.lexical_search(["noordbrug"], 5)
    question = fake_embeddings.embed_query("Is de zuidbrug in zuid weer open?")
    assert "zuid.txt" not in {h.article_id for h in app.dense_search(question, 5)}
    assert app.count() == app.lexical.count() == sum(listed().values())
    cli_settings = server_settings.replace(model_cache=tmp_path / "other-machine")
    assert FeedState.load(state_path(cli_settings)).removed == {"zuid.txt"}


@pytest.mark.parametrize("mode", ["embedded", "server"])
def test_an_index_rebuilt_for_another_model_under_a_running_app_is_refused_clearly(
    mode: str, server_settings: Settings, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    """Another process runs ``--reset`` with another model while the app serves: the app's next
    question gets the model guard's message, never results from vectors it cannot compare."""
    settings = server_settings
    if mode == "embedded":
        settings = Settings(index_dir=server_settings.index_dir, refresh_s=0.0,
                            model_cache=server_settings.model_cache)  # fmt: skip
    app = _open(settings, fake_embeddings)
    ingest_paths([NOS_ARTICLE], store=app, embeddings=fake_embeddings, settings=settings)
    pipeline = Pipeline(settings, fake_embeddings, app, reader=OverlapReader())
    assert not pipeline.ask(POETIN).refused
    other = IndexSpec("intfloat/multilingual-e5-base", 768, settings.chunk_tokens, 1)
    open_store(settings, other, for_writing=True, reset=True)
    with pytest.raises(IndexMismatchError, match="multilingual-e5-base"):
        pipeline.ask(POETIN)


def _lexical_articles(store: ChunkStore) -> set[tuple[str, str]]:
    return set(store.lexical.chunk_hashes().values())


def test_server_down_is_a_clear_error_and_the_app_recovers(
    tmp_path: Path, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    with ChromaServer(tmp_path / "own-server") as own:
        settings = Settings(
            index_dir=tmp_path / "unused", chroma_url=own.url, model_cache=tmp_path / "cache",
            refresh_s=0.0,
        )  # fmt: skip
        store = _open(settings, fake_embeddings)
        ingest_paths([NOS_ARTICLE], store=store, embeddings=fake_embeddings, settings=settings)
        pipeline = Pipeline(settings, fake_embeddings, store, reader=OverlapReader())
        assert not pipeline.ask(POETIN).refused
        own.stop()
        with pytest.raises(IndexUnavailableError) as err:
            pipeline.ask(POETIN)
        assert "niet bereikbaar" in str(err.value) and own.url in str(err.value)
        own.start()
        assert not pipeline.ask(POETIN).refused


def test_a_server_url_nobody_listens_on_is_a_clear_error(tmp_path: Path) -> None:
    from tests.robustness.chroma_server import free_port

    settings = Settings(chroma_url=f"http://127.0.0.1:{free_port()}", model_cache=tmp_path)
    with pytest.raises(IndexUnavailableError) as err:
        open_store(settings, IndexSpec("m", 8, 160, 1))
    assert "chroma run" in str(err.value)
    with pytest.raises(IndexUnavailableError, match="Ongeldige Chroma-URL"):
        open_store(Settings(chroma_url="geen-url", model_cache=tmp_path), IndexSpec("m", 8, 160, 1))


# --- 2. ingest in another process while this one serves --------------------------------------


@pytest.fixture(params=["embedded", "server"])
def serving(
    request: pytest.FixtureRequest, tmp_path: Path, fake_embeddings: BagOfWordsEmbeddings
) -> tuple[Settings, list[str]]:
    """Settings for the serving process, and the writer's flags for the same index."""
    if request.param == "embedded":
        settings = Settings(
            index_dir=tmp_path / "index", model_cache=tmp_path / "cache", refresh_s=0.2
        )
        return settings, ["--index", str(settings.index_dir)]
    server: ChromaServer = request.getfixturevalue("server")
    settings = Settings(
        index_dir=tmp_path / "unused", chroma_url=server.url, model_cache=tmp_path / "cache",
        collection=f"t-{uuid.uuid4().hex[:12]}", refresh_s=0.2,
    )  # fmt: skip
    # the writer is "another machine": its own lexical cache
    return settings, [
        "--chroma-url", server.url, "--collection", settings.collection,
        "--cache", str(tmp_path / "writer-cache"),
    ]  # fmt: skip


@pytest.mark.slow
def test_an_article_ingested_by_another_process_can_be_asked_about_at_once(
    serving: tuple[Settings, list[str]], fake_embeddings: BagOfWordsEmbeddings, tmp_path: Path
) -> None:
    settings, where = serving
    store = _open(settings, fake_embeddings)
    ingest_paths([NOS_ARTICLE], store=store, embeddings=fake_embeddings, settings=settings)
    pipeline = Pipeline(settings, fake_embeddings, store, reader=OverlapReader())
    question = "Wat is er met de Zeelandbrug in Zierikzee gebeurd?"
    assert pipeline.ask(question).refused or "zeeland.txt" not in pipeline.ask(question).retrieved

    # questions keep coming in while the other process writes and this one catches up
    errors: list[BaseException] = []
    answered = [0]
    stop = threading.Event()

    def ask_in_a_loop() -> None:
        while not stop.is_set():
            try:
                pipeline.ask(POETIN)
                answered[0] += 1
            except BaseException as err:  # noqa: BLE001 - collected and asserted below
                errors.append(err)

    users = [threading.Thread(target=ask_in_a_loop) for _ in range(3)]
    for user in users:
        user.start()
    try:
        docs = tmp_path / "new"
        docs.mkdir()
        (docs / "zeeland.txt").write_text(
            "De Zeelandbrug bij Zierikzee is dicht na een aanvaring door een vrachtschip. "
            "Rijkswaterstaat inspecteert de Zeelandbrug in Zierikzee deze week.",
            encoding="utf-8",
        )
        out = run_writer(write_writer_script(tmp_path), *where, str(docs))
        assert json.loads(out.strip().splitlines()[-1])["done"]["added"] == 1
        written = time.monotonic()
        deadline = time.monotonic() + 10
        while True:
            answer = pipeline.ask(question)
            if answer.sources and answer.sources[0].article_id == "zeeland.txt":
                break
            assert time.monotonic() < deadline, "the new article never showed up"
            time.sleep(0.1)
        seen_after = time.monotonic() - written
    finally:
        stop.set()
        for user in users:
            user.join(timeout=30)
    assert not errors, errors[:3]
    assert answered[0] > 0
    assert "Zeelandbrug" in answer.answer or "Zierikzee" in answer.answer
    assert store.count() == store.lexical.count()
    assert seen_after < 5
    print(f"seen {seen_after:.2f} s after the writer ended; {answered[0]} answers meanwhile")


# --- 3. the real command, the real model, a real server ---------------------------------------


@pytest.mark.integration
@pytest.mark.slow
def test_the_ingest_command_fills_a_server_that_the_pipeline_answers_from(
    server: ChromaServer, tmp_path: Path, real_embeddings, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    collection = f"t-{uuid.uuid4().hex[:12]}"
    extra = tmp_path / "kort.txt"
    extra.write_text("Het KNMI meldt dat het morgen in Utrecht de hele dag regent.", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ingest", str(NOS_ARTICLE), str(extra), "--chroma-url", server.url,
         "--collection", collection, "--json", "-q"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**_env(), "XDG_CACHE_HOME": str(model_cache.parent)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["added"] == 2 and summary["skipped"] == []
    settings = Settings(
        chroma_url=server.url, collection=collection, model_cache=tmp_path / "app-cache"
    )
    try:
        store = open_store(settings, spec_for(settings, real_embeddings))
        assert store.count() == summary["chunks"] == store.lexical.count()
        answer = Pipeline(settings, real_embeddings, store).ask(POETIN)
        assert not answer.refused and answer.sources[0].article_id == NOS_ID
        # the command's own lexical cache went to the user's cache: leave nothing behind
    finally:
        cli_cache = lexical_path(Settings(chroma_url=server.url, collection=collection,
                                          model_cache=model_cache))  # fmt: skip
        for leftover in cli_cache.parent.glob(cli_cache.name + "*"):
            leftover.unlink()


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
