"""Readers: every format, the NOS export header, and bad input skipped with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.readers import (
    Skipped,
    article_id_for,
    decode,
    find_files,
    normalize_date,
    read_bytes,
    read_file,
)
from qa.types import Article
from tests.conftest import NOS_ARTICLE


def _read(data: bytes, name: str) -> list:
    return read_bytes(data, name=name, article_id=name, path=name)


def test_nos_export_header_gives_title_date_and_outlet() -> None:
    [article] = read_file(NOS_ARTICLE, article_id="nos", max_bytes=10**7)
    assert isinstance(article, Article)
    assert article.title == "Poetin haalt in Pyongyang banden aan met Noord-Korea, ook militair"
    assert article.date == "2024-06"
    assert article.source == "NOS Nieuws"
    assert article.text.startswith("De Russische president Poetin")
    assert "NOS Nieuws •" not in article.text


def test_plain_text_without_header_takes_its_first_sentence_as_title() -> None:
    [article] = _read(b"Dit is de eerste zin. En nog een zin.", "a.txt")
    assert article.title == "Dit is de eerste zin."


def test_markdown_front_matter_and_heading() -> None:
    md = "---\ndate: 2024-03-01\nsource: Testkrant\n---\n# De kop\n\nDe tekst van het stuk.\n"
    [article] = _read(md.encode(), "a.md")
    assert (article.title, article.date, article.source) == ("De kop", "2024-03-01", "Testkrant")
    assert article.text == "De tekst van het stuk."


def test_html_is_extracted_with_trafilatura() -> None:
    html = (
        "<html><head><title>Brug geopend</title><meta name='date' content='2025-03-03'></head>"
        "<body><nav>menu menu</nav><article><h1>Brug geopend</h1><p>"
        + "De nieuwe brug in Voorbeeldstad is gisteren geopend door de burgemeester. " * 3
        + "</p></article></body></html>"
    )
    [article] = _read(html.encode(), "a.html")
    assert isinstance(article, Article)
    assert "Voorbeeldstad" in article.text and "menu" not in article.text
    assert article.title == "Brug geopend"


def test_jsonl_good_and_broken_lines() -> None:
    data = json.dumps({"id": "x1", "text": "Een goede zin.", "date": "2001-07-14"}) + "\n{kapot\n"
    results = _read(data.encode(), "a.jsonl")
    assert isinstance(results[0], Article) and results[0].id == "x1"
    assert results[0].date == "2001-07-14"
    assert isinstance(results[1], Skipped)
    assert results[1].path == "a.jsonl:regel 2" and "ongeldige JSON" in results[1].reason


def test_json_array_and_record_without_text() -> None:
    data = json.dumps([{"text": "Tekst één."}, {"title": "geen tekst"}])
    good, bad = _read(data.encode(), "a.json")
    assert isinstance(good, Article) and good.id == "a.json#1"
    assert isinstance(bad, Skipped) and bad.reason == "geen tekst"


def test_csv_columns_and_missing_text_column() -> None:
    ok = _read(b"id,title,text\n7,Kop,De tekst.\n", "a.csv")
    assert isinstance(ok[0], Article) and (ok[0].id, ok[0].title) == ("7", "Kop")
    [bad] = _read(b"id,title\n7,Kop\n", "b.csv")
    assert isinstance(bad, Skipped) and "text" in bad.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "leeg"),
        (b"   \n\n ", "leeg"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "binair"),
        (b"tekst\x00met nul", "binair"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(data: bytes, reason: str) -> None:
    [result] = _read(data, "x.txt")
    assert isinstance(result, Skipped) and reason in result.reason


def test_cp1252_text_is_decoded_with_a_note() -> None:
    text, notes = decode("Café in Oekraïne — “quote”".encode("cp1252"))
    assert text == "Café in Oekraïne — “quote”" and "cp1252" in notes[0]


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("woord " * 1000)
    [result] = read_file(big, article_id="big", max_bytes=100)
    assert isinstance(result, Skipped) and "te groot" in result.reason


def test_find_files_recurses_skips_hidden_and_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text("x")
    (tmp_path / ".hidden.txt").write_text("x")
    (tmp_path / "image.png").write_bytes(b"x")
    (tmp_path / "a" / "b" / "loop").symlink_to(tmp_path / "a")
    found = [article_id_for(root, f) for root, f in find_files([tmp_path])]
    assert found == ["a/b/x.txt"]


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2024-06", "2024-06"),
        ("2024-6-3", "2024-06-03"),
        ("3-6-2024", "2024-06-03"),
        ("14 juli 2001", "2001-07-14"),
        ("Tue, 18 Jun 2024 10:00:00 GMT", "2024-06-18"),
        ("gisteren", None),
    ],
)
def test_dates_are_normalised(raw: str, iso: str | None) -> None:
    assert normalize_date(raw) == iso
