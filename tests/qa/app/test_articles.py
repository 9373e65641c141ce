"""The Artikelen tab without a browser: the table and its search, the selection, the
confirmation, and removing articles so that the chat no longer uses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.app.articles import (
    NOTHING_SELECTED,
    Desk,
    count_label,
    delete_question,
    filter_articles,
    table_rows,
    toggle,
)
from qa.app.chat import ChatApp
from qa.app.uploads import Uploader
from qa.index.store import ArticleInfo
from qa.pipeline import Pipeline
from tests.qa.app.conftest import SCRIPT

NOS_ID = "nos-poetin-kim-2024-06.txt"
NOS_TITLE = "Poetin haalt in Pyongyang banden aan met Noord-Korea, ook militair"
INFOS = [
    ArticleInfo("nos.txt", "Poetin bezoekt Noord-Korea", "2024-06-19", "NOS Nieuws", None, 8),
    ArticleInfo("wiki-1", "Aswoensdag", None, "Lassy Small, Wikipedia", None, 2),
    ArticleInfo("los.txt", "", "2023", None, None, 1),
]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("", ["nos.txt", "wiki-1", "los.txt"]),
        ("poetin", ["nos.txt"]),
        ("NOORD korea", ["nos.txt"]),  # every word, any case
        ("noord aswoensdag", []),
        ("wikipedia", ["wiki-1"]),  # the source
        ("2024-06", ["nos.txt"]),  # the date
        ("los", ["los.txt"]),  # the id, for an article without a title
        ("Ásw", ["wiki-1"]),  # diacritics ignored
    ],
)
def test_search_narrows_the_table(query: str, ids: list[str]) -> None:
    assert [i.id for i in filter_articles(INFOS, query)] == ids


def test_table_rows_and_counts() -> None:
    assert table_rows(INFOS) == [
        ["Poetin bezoekt Noord-Korea", "19 juni 2024", "NOS Nieuws", 8],
        ["Aswoensdag", "", "Lassy Small, Wikipedia", 2],
        ["los.txt", "2023", "", 1],
    ]
    assert count_label(61, 61) == "61 artikelen"
    assert count_label(1, 1) == "1 artikel"
    assert count_label(3, 61) == "3 van 61 artikelen"


def test_clicking_toggles_an_article_in_the_selection() -> None:
    assert toggle([], "a") == ["a"]
    assert toggle(["a", "b"], "a") == ["b"]
    assert toggle(None, None) == []
    ids = ["x", "y"]
    assert Desk.clicked(["x"], ids, [1, 0]) == ["x", "y"]  # gradio gives [row, column]
    assert Desk.clicked(["x"], ids, [5, 0]) == ["x"]  # a row that is no longer shown
    assert Desk.clicked(None, ids, "kop") == []


def test_the_confirmation_names_what_goes_and_escapes_it() -> None:
    one = delete_question([INFOS[0]])
    assert "Weet je zeker dat je dit artikel wilt verwijderen?" in one
    assert "<li>Poetin bezoekt Noord-Korea (19 juni 2024)</li>" in one
    many = delete_question(INFOS[:2])
    assert "deze 2 artikelen" in many
    evil = ArticleInfo("x", f"Titel {SCRIPT}", None, None, None, 1)
    assert "<script" not in delete_question([evil])


def test_listing_the_sample_index(sample_pipeline: Pipeline) -> None:
    desk = Desk(sample_pipeline.store)
    listing = desk.listing()
    assert listing.count == "61 artikelen"
    assert listing.rows[0] == [NOS_TITLE, "juni 2024", "NOS Nieuws", listing.rows[0][3]]
    assert listing.ids[0] == NOS_ID and len(listing.choices) == 61
    assert "NOS Nieuws" in listing.sources and len(listing.sources) == 4
    found = desk.listing("pyongyang")
    assert (found.ids, found.count) == ([NOS_ID], "1 van 61 artikelen")
    assert len(found.choices) == 61  # the selection list keeps every article


def test_delete_asks_first_then_removes_and_the_chat_no_longer_cites_it(
    sample_pipeline: Pipeline,
) -> None:
    desk, chat = Desk(sample_pipeline.store), ChatApp(sample_pipeline)
    assert NOS_ID in {s["article_id"] for s in chat.ask("Wat gaf Poetin aan Kim?")["sources"]}

    nothing = desk.ask_delete([])
    assert not nothing.confirm and "Kies eerst" in nothing.message
    prompt = desk.ask_delete([NOS_ID])
    assert prompt.confirm and "dit artikel wilt verwijderen" in prompt.message
    assert NOS_TITLE in prompt.message
    assert desk.listing().count == "61 artikelen"  # asking removes nothing

    notice = desk.delete([NOS_ID])
    assert (
        "1 artikel verwijderd: Poetin haalt in Pyongyang" in notice and "Nu 60 artikelen" in notice
    )
    assert desk.listing().count == "60 artikelen"
    assert "NOS Nieuws" not in desk.listing().sources  # the chat's source filter follows
    answer = chat.ask("Wat gaf Poetin aan Kim?")
    assert NOS_ID not in {s["article_id"] for s in answer["sources"]}
    assert "limousine" not in answer["answer"]


def test_delete_of_unknown_or_no_articles_says_so(sample_pipeline: Pipeline) -> None:
    desk = Desk(sample_pipeline.store)
    assert NOTHING_SELECTED.split(":")[0] in desk.delete([])
    gone = desk.ask_delete(["bestaat-niet.txt"])
    assert not gone.confirm and "al niet meer in de index" in gone.message
    notice = desk.delete([NOS_ID, "bestaat-niet.txt"])
    assert "niet in de index" in notice and "Er is niets verwijderd" in notice
    assert desk.listing().count == "61 artikelen"  # all or nothing


def test_removing_an_uploaded_article_removes_its_upload(
    sample_pipeline: Pipeline, tmp_path: Path
) -> None:
    from ingest.pipeline import ingest_paths

    uploader = Uploader(sample_pipeline, ingest_paths)
    desk = Desk(sample_pipeline.store, upload_dir=uploader.upload_dir, lock=uploader.lock)
    article = tmp_path / "zonnebrug.txt"
    article.write_text("De Zonnebrug\n\nDe Zonnebrug in Voorbeeldstad is open. Ze is lang.\n")
    assert "1 artikel toegevoegd" in uploader.add_files([str(article)])
    assert (uploader.upload_dir / "zonnebrug.txt").exists()
    assert "1 artikel verwijderd" in desk.delete(["zonnebrug.txt"])
    assert not (uploader.upload_dir / "zonnebrug.txt").exists()
    assert desk.listing().count == "61 artikelen"
    # an article from a file outside uploads/ keeps its file
    sample_file = Path(sample_pipeline.settings.sample_dir) / NOS_ID
    desk.delete([NOS_ID])
    assert sample_file.exists()
