"""'Exporteer': the conversation as Markdown, a pure function of the turns."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from qa.app.conversation import Turn
from qa.app.export import export_markdown, write_export
from qa.index.retrieval import Filters
from tests.qa.app.conftest import make_answer, make_source

WHEN = dt.datetime(2024, 6, 20, 9, 5)


def test_questions_answers_and_sources_with_their_sentences() -> None:
    first = make_answer(
        "Tweede zin. [1] Derde zin. [2]",
        make_source(1, highlights=((12, 23),)),
        make_source(2, title="Ander artikel", source=None, date=None, url=None,
                    highlights=((0, 11), (24, 34))),
        searched=("Nog een artikel",),
    )  # fmt: skip
    turns = [
        Turn("Welke zin?", first, filters=Filters(("NOS Nieuws",))),
        Turn("Te lang?", error="Die vraag is te lang."),
        Turn("En de   volgende?", make_answer(query="Welke zin volgt?")),
    ]
    text = export_markdown(turns, now=WHEN)
    assert text.startswith("# Gesprek met Vraagbaak (20 juni 2024, 09:05)\n")
    assert (
        "## Vraag 1: Welke zin?\n\n*Filters: Bron: NOS Nieuws*\n\nTweede zin. [1] Derde zin. [2]"
        in text
    )
    assert (
        "**Bronnen**\n\n1. Titel 1 (NOS Nieuws, 19 juni 2024)\n   <https://nos.nl/artikel/1>\n"
        "   > Tweede zin.\n\n2. Ander artikel\n   > Eerste zin.\n   > Derde zin.\n"
    ) in text
    assert "Ook doorzocht: Nog een artikel" in text
    assert "## Vraag 2: Te lang?\n\n*Die vraag is te lang.*" in text
    assert "## Vraag 3: En de volgende?" in text and "*Gezocht op: Welke zin volgt?*" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_an_empty_conversation_and_unsafe_links() -> None:
    assert "Nog geen vragen gesteld." in export_markdown([], now=WHEN)
    evil = make_answer("x [1]", make_source(url="javascript:alert(1)"))
    assert "javascript" not in export_markdown([Turn("q", evil)], now=WHEN)


def test_export_files_are_named_by_content_and_old_ones_pruned(tmp_path: Path) -> None:
    turns = [Turn("Welke zin?", make_answer())]
    path = write_export(turns, now=WHEN, folder=tmp_path)
    assert path.name == "vraagbaak-gesprek-20240620-0905.md"
    assert write_export(turns, now=WHEN, folder=tmp_path) == path
    other = write_export([Turn("Andere vraag?", make_answer())], now=WHEN, folder=tmp_path)
    assert other != path and path.exists()
    old = time.time() - 7200
    os.utime(path, (old, old))
    write_export(turns[:0], now=WHEN, folder=tmp_path, keep_s=3600)
    assert not path.exists() and other.exists()
