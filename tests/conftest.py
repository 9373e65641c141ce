"""Shared fixtures and fakes.

Fakes are real subclasses, not mocks: ``BagOfWordsEmbeddings`` embeds hashed Dutch search terms,
so similar texts really get similar vectors and retrieval tests mean something without a model.
Integration fixtures use the real bundled model and a real Chroma folder, built once per session.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest
from langchain_core.embeddings import Embeddings

from qa.answer.reader import Reader, Scored, Thresholds
from qa.settings import REPO_ROOT, Settings
from qa.text import terms

SAMPLE_DIR = REPO_ROOT / "data" / "articles"
NOS_ARTICLE = SAMPLE_DIR / "nos-poetin-kim-2024-06.txt"


class BagOfWordsEmbeddings(Embeddings):
    """Deterministic fake: each search term hashes to a dimension; vectors are L2-normalised."""

    name = "fake-bag-of-words"

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimension
        for term in terms(text):
            h = int(hashlib.sha256(term.encode()).hexdigest()[:8], 16)
            vec[h % self.dimension] += 1.0
        norm = sum(v * v for v in vec) ** 0.5 or 1.0
        return [v / norm for v in vec]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class OverlapReader(Reader):
    """A fake reader with no weights: P(answers) is the share of the question's terms a sentence
    and its neighbours hold (with word pairs and who-does-what-to-whom counted too), and the
    question counts as answered when the best sentence holds most of them. Deterministic, so
    tests of the answer path don't depend on the trained model."""

    def __init__(self, answer: float = 0.5, second: float = 0.6) -> None:
        super().__init__(Path("/nonexistent"))
        self._thresholds = Thresholds(answer=answer, second=second)

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    def score(self, scored: Sequence[Scored]) -> list[Scored]:
        def p(s: Scored) -> float:
            f = s.features
            raw = f["lexical"] + 0.3 * f["context"] + 0.3 * f["bigram"] + 0.5 * f["roles"]
            return max(0.0, min(1.0, raw + 0.2 * f["typed"] * (f["atype"] > 0)))

        return sorted((replace(s, p=p(s)) for s in scored), key=lambda s: s.p, reverse=True)

    def answerable(self, scored: Sequence[Scored]) -> float:
        return max((s.p for s in scored), default=0.0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", model_cache=tmp_path / "cache")


@pytest.fixture
def fake_embeddings() -> BagOfWordsEmbeddings:
    return BagOfWordsEmbeddings()


@pytest.fixture
def store(settings: Settings, fake_embeddings: BagOfWordsEmbeddings):  # type: ignore[no-untyped-def]
    from qa.index.store import open_store, spec_for

    s = open_store(settings, spec_for(settings, fake_embeddings), for_writing=True)
    yield s
    s.lexical.close()


@pytest.fixture(scope="session")
def fake_sample_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus ingested once per session with the fake embedder."""
    from ingest.pipeline import ingest_paths
    from qa.index.store import open_store, spec_for

    folder = tmp_path_factory.mktemp("fake-sample-index")
    s = Settings(index_dir=folder, model_cache=folder / "cache")
    emb = BagOfWordsEmbeddings()
    st = open_store(s, spec_for(s, emb), for_writing=True)
    ingest_paths([SAMPLE_DIR], store=st, embeddings=emb, settings=s)
    st.lexical.close()
    return folder


@pytest.fixture
def sample_pipeline(tmp_path: Path, fake_sample_index: Path, fake_embeddings: BagOfWordsEmbeddings):  # type: ignore[no-untyped-def]
    """A pipeline over a private copy of the whole sample corpus, with the fake embedder and the
    fake reader (the trained reader expects the real model's similarities)."""
    from qa.index.store import open_store, spec_for
    from qa.pipeline import Pipeline

    folder = tmp_path / "sample-index"
    shutil.copytree(fake_sample_index, folder)
    s = Settings(index_dir=folder, model_cache=tmp_path / "cache")
    store = open_store(s, spec_for(s, fake_embeddings), for_writing=True)
    return Pipeline(s, fake_embeddings, store, reader=OverlapReader())


# --- integration: the real bundled model, built once per session ------------------------------


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """The user's model cache: the bundled model is converted once per machine, not per run."""
    return Settings().model_cache


@pytest.fixture(scope="session")
def real_embeddings(model_cache: Path):  # type: ignore[no-untyped-def]
    from qa.index.embeddings import load_embeddings

    return load_embeddings(Settings(model_cache=model_cache))


@dataclass(frozen=True)
class BuiltIndex:
    folder: Path
    summary: dict  # the JSON summary the ingest command printed


@pytest.fixture(scope="session")
def real_sample_build(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> BuiltIndex:
    """The sample corpus ingested once per session by the real command, as a user runs it."""
    from ingest.cli import main

    folder = tmp_path_factory.mktemp("sample-index")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(SAMPLE_DIR), "--index", str(folder), "--json", "-q"])
    assert code == 0, out.getvalue()
    return BuiltIndex(folder, json.loads(out.getvalue().strip().splitlines()[-1]))


@pytest.fixture(scope="session")
def real_sample_index(real_sample_build: BuiltIndex) -> Path:
    """The real sample index; tests copy it (``real_index_copy``) rather than write to it."""
    return real_sample_build.folder


@pytest.fixture
def real_index_copy(real_sample_index: Path, tmp_path: Path) -> Iterator[Path]:
    """A private copy of the real sample index, for a test that writes or serves it."""
    target = tmp_path / "index"
    shutil.copytree(real_sample_index, target)
    yield target


@pytest.fixture
def real_pipeline(real_index_copy: Path, real_embeddings, model_cache):  # type: ignore[no-untyped-def]
    from qa.index.store import open_store, spec_for
    from qa.pipeline import Pipeline

    s = Settings(index_dir=real_index_copy, model_cache=model_cache)
    return Pipeline(s, real_embeddings, open_store(s, spec_for(s, real_embeddings)))
