"""The trained reader: training works end to end, the committed weights are the ones the manifest
names, and the shipped reader picks the right sentence and refuses what the articles don't say."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from qa.answer.extractive import extract_answer
from qa.answer.question import parse_question
from qa.answer.reader import WEIGHTS_DIR, Reader
from qa.answer.training import DATA_DIR, data_hash, load_data, train_reader
from qa.types import Hit
from tests.conftest import BagOfWordsEmbeddings


def test_a_tiny_reader_trains_end_to_end_in_seconds(tmp_path: Path) -> None:
    lines: list[str] = []
    report = train_reader(
        BagOfWordsEmbeddings(), out_dir=tmp_path / "weights", limit=3, folds_k=2, rounds=20,
        progress=lines.append,
    )  # fmt: skip
    manifest = json.loads((tmp_path / "weights" / "manifest.json").read_text())
    # the files it names are the files it wrote
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((tmp_path / "weights" / name).read_bytes()).hexdigest() == digest
    assert manifest["data"]["sha256"] == data_hash(DATA_DIR)
    assert 0.0 <= report.metrics["top1"] <= 1.0
    # held-out metrics were reported while it trained, per fold
    assert any("achtergehouden" in line for line in lines)
    # and the weights load and score
    reader = Reader(tmp_path / "weights")
    assert 0.0 < reader.thresholds.answer < 1.0


def test_the_committed_weights_match_their_manifest_and_the_data() -> None:
    manifest = json.loads((WEIGHTS_DIR / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        path = WEIGHTS_DIR / name
        assert path.stat().st_size <= 10 * 1024 * 1024, f"{name} is over the Space's 10 MB"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{name} changed"
    assert manifest["data"]["sha256"] == data_hash(DATA_DIR), (
        "data/reader changed since the weights were trained: run `make train-reader`"
    )
    assert manifest["command"].startswith("python -m qa train-reader")
    assert manifest["held_out"]["split"] == "by domain"


def test_the_training_data_splits_by_domain_and_cluster() -> None:
    articles = load_data(DATA_DIR)
    assert len(articles) >= 495
    clusters: dict[str, set[str]] = {}
    for a in articles:
        clusters.setdefault(a.cluster, set()).add(a.domain)
    # a cluster never spans two domains, so a domain split never splits a story
    assert all(len(domains) == 1 for domains in clusters.values())
    assert len({a.domain for a in articles}) >= 12


def _article_hit(article_id: str, title: str, text: str) -> Hit:
    from qa.text import split_sentences

    return Hit(
        chunk_id=f"{article_id}#0", article_id=article_id, text=text, start=0,
        sentences=tuple(split_sentences(text)), title=title,
    )  # fmt: skip


MARKET = _article_hit(
    "markt",
    "Nieuwe weekmarkt in Zwolle",
    "De gemeente Zwolle krijgt vanaf april een tweede weekmarkt. De markt komt op het "
    "Stationsplein en is elke donderdag open van 8.00 tot 13.00 uur. Wethouder Anouk de Boer "
    "verwacht zo'n veertig kramen. Marktkoopman Ruud Pels is blij met het besluit. Hij staat al "
    "dertig jaar op de markt in de binnenstad. De ondernemers in de Diezerstraat zijn minder "
    "enthousiast. Zij vrezen dat klanten voortaan wegblijven uit het centrum.",
)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Op welke dag is de nieuwe markt open?", "elke donderdag"),
        ("Hoeveel kramen verwacht de wethouder?", "veertig kramen"),
        ("Waarom zijn de winkeliers in de Diezerstraat niet blij?", "wegblijven"),
        ("How many stalls does the alderman expect?", "veertig kramen"),
    ],
)
def test_the_shipped_reader_ranks_the_answering_sentence_first(
    question: str, expected: str, real_embeddings
) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_question(question)
    vector = real_embeddings.encode([parsed.query], query=True)[0]
    extraction = extract_answer(
        parsed, [MARKET], reader=Reader(), query_vector=vector,
        encode=lambda texts: real_embeddings.encode(texts, query=False),
    )  # fmt: skip
    assert not extraction.refused
    assert expected in extraction.picks[0].text or expected in extraction.text


@pytest.mark.integration
def test_the_shipped_reader_refuses_a_near_miss_and_cites_the_nearest_sentence(
    real_embeddings,
) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_question("Hoeveel kost een kraam op de nieuwe markt per dag?")
    vector = real_embeddings.encode([parsed.query], query=True)[0]
    extraction = extract_answer(
        parsed, [MARKET], reader=Reader(), query_vector=vector,
        encode=lambda texts: real_embeddings.encode(texts, query=False),
    )  # fmt: skip
    assert extraction.refused
    assert extraction.picks  # the nearest sentence, for the refusal to cite


def test_training_gives_the_same_weights_whatever_the_hash_seed(tmp_path: Path) -> None:
    # Python orders sets of strings by a per-process hash seed; no feature may depend on it,
    # or `make train-reader` would not reproduce the committed weights.
    import os
    import subprocess
    import sys

    from qa.settings import REPO_ROOT

    script = (
        "import sys; from pathlib import Path; from tests.conftest import BagOfWordsEmbeddings;"
        "from qa.answer.training import train_reader;"
        "train_reader(BagOfWordsEmbeddings(), out_dir=Path(sys.argv[1]), limit=2, folds_k=2,"
        " rounds=20)"
    )
    digests = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", script, str(out)], cwd=REPO_ROOT, env=env, check=True)
        digests.append(json.loads((out / "manifest.json").read_text())["files"])
    assert digests[0] == digests[1]
