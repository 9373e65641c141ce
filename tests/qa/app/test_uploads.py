"""'Artikelen toevoegen': uploads checked, staged under safe names, ingested, reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.app.chat import ChatApp
from qa.app.uploads import UPLOAD_TYPES, Uploader, ensure_sample_index, safe_upload_name
from qa.pipeline import Pipeline
from qa.settings import Settings
from tests.conftest import OverlapReader
from tests.qa.app.conftest import IMG

BRIDGE = """De Zonnebrug in Voorbeeldstad is open

Testartikel. De nieuwe Zonnebrug in Voorbeeldstad werd op dinsdag geopend door burgemeester \
Fictief. De brug is 240 meter lang en kostte twaalf miljoen euro. Fietsers mogen er gratis over.
"""


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("artikel.txt", "artikel.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\x.md", "x.md"),
        (".verborgen.txt", "verborgen.txt"),
        ("..", "upload"),
        ("", "upload"),
        ("a<b>|c.txt", "a_b_c.txt"),
        ("Oekraïne nieuws.html", "Oekraïne nieuws.html"),
        ("x" * 300 + ".jsonl", "x" * 114 + ".jsonl"),
    ],
)
def test_safe_upload_name_keeps_only_a_harmless_base_name(name: str, safe: str) -> None:
    assert safe_upload_name(name) == safe


def test_upload_types_match_what_the_ingester_reads() -> None:
    from ingest.readers import SUFFIXES

    assert set(UPLOAD_TYPES) == SUFFIXES


@pytest.fixture
def uploader(sample_pipeline: Pipeline) -> Uploader:
    from ingest.pipeline import ingest_paths

    return Uploader(sample_pipeline, ingest_paths)


def test_uploaded_article_can_be_asked_about_at_once(uploader: Uploader, tmp_path: Path) -> None:
    path = tmp_path / "upload" / "zonnebrug.txt"
    path.parent.mkdir()
    path.write_text(BRIDGE, encoding="utf-8")
    calls: list[tuple[float, str]] = []
    report = uploader.add_files([str(path)], lambda f, desc="": calls.append((f, desc)))
    assert "1 artikel toegevoegd" in report and "zonnebrug.txt" in report
    assert "De index bevat nu 62 artikelen" in report
    assert calls and calls[-1] == (1.0, "1 van 1 artikelen verwerkt")
    answer = ChatApp(uploader.pipeline).ask("Wie opende de Zonnebrug in Voorbeeldstad?")
    assert "burgemeester Fictief" in answer["answer"]
    assert answer["sources"][0]["article_id"] == "zonnebrug.txt"
    assert (uploader.upload_dir / "zonnebrug.txt").exists()  # kept beside the index
    assert "ongewijzigd" in uploader.add_files([str(path)])


def _limited(sample_pipeline: Pipeline, **limits: float) -> Uploader:
    from ingest.pipeline import ingest_paths

    settings = sample_pipeline.settings.replace(**limits)
    return Uploader(sample_pipeline, ingest_paths, settings=settings)


def test_upload_rejects_too_many_files(sample_pipeline: Pipeline, tmp_path: Path) -> None:
    uploader = _limited(sample_pipeline, max_upload_files=2)
    files = []
    for i in range(3):
        files.append(tmp_path / f"a{i}.txt")
        files[-1].write_text(BRIDGE)
    report = uploader.add_files([str(f) for f in files])
    assert "Te veel bestanden tegelijk (3); het maximum is 2" in report
    assert not uploader.upload_dir.exists()


def test_upload_rejects_too_many_megabytes(sample_pipeline: Pipeline, tmp_path: Path) -> None:
    big = tmp_path / "groot.txt"
    big.write_text("Een zin. " * 500)
    assert "te groot" in _limited(sample_pipeline, max_upload_mb=0.001).add_files([str(big)])


def test_skipped_files_are_listed_with_their_reasons(uploader: Uploader, tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4 binary")
    empty = tmp_path / "leeg.txt"
    empty.write_text("")
    evil = tmp_path / f"x{IMG.replace('/', '')}.txt"
    evil.write_bytes(b"\x00\x01\x02 binair")
    report = uploader.add_files([str(pdf), str(empty), str(evil)])
    assert "Overgeslagen" in report and "Geen artikelen toegevoegd" in report
    assert "scan.pdf</code>: bestandstype .pdf wordt niet gelezen" in report
    assert "leeg.txt</code>: leeg bestand" in report
    assert "binair bestand" in report
    assert "<img" not in report
    assert str(tmp_path) not in report and str(uploader.upload_dir) not in report


def test_upload_needs_files_and_an_ingester(sample_pipeline: Pipeline, uploader: Uploader) -> None:
    assert "Kies eerst" in uploader.add_files([])
    assert "staat uit" in Uploader(sample_pipeline, None).add_files(["/etc/hostname"])


def test_ensure_sample_index_fills_only_an_empty_index(
    settings: Settings, fake_embeddings, store
) -> None:  # type: ignore[no-untyped-def]
    from ingest.pipeline import ingest_paths

    pipeline = Pipeline(settings, fake_embeddings, store, reader=OverlapReader())
    report = ensure_sample_index(pipeline, ingest_paths)
    assert report is not None and report.added > 50
    assert ensure_sample_index(pipeline, ingest_paths) is None
    assert len(pipeline.store.list_articles()) == 61
    assert pipeline.ask("Wat gaf Poetin aan Kim?").sources  # answered from them at once
