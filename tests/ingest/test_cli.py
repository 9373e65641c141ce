"""The ingest command as a person uses it: ``--list``, ``--remove``, exit codes, and the back-off
for feed pages that keep failing.

Feeds come from the test news site on 127.0.0.1 (``tests/ingest/newsite.py``); the command runs
in this process with the fake embedder (the ``cli`` fixture).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ingest.cli import EXIT_CODES, build_parser, main
from ingest.feeds import RETRY_FIRST_S
from qa.index.store import IndexSpec, open_store, recorded_spec
from qa.settings import Settings
from tests.conftest import BagOfWordsEmbeddings
from tests.ingest.conftest import Cli
from tests.ingest.newsite import Item, NewsSite, standard_items

CLI_FETCH = ["--timeout", "0.5", "--retries", "0", "--json"]

pytestmark = pytest.mark.usefixtures("_only_localhost")

ARTICLES = [
    {"id": "brug", "title": "Nieuwe fietsbrug over de Vaart", "date": "2025-04-10",
     "source": "Testnieuws", "url": "https://nieuws.example/brug",
     "text": "De nieuwe fietsbrug over de Voorbeeldse Vaart gaat in april open. " * 4},
    {"id": "markt", "title": "Weekmarkt verhuist", "date": "2025-02-14", "source": "Testnieuws",
     "text": "De weekmarkt van Voorbeeldstad verhuist naar het Stationsplein. " * 4},
    {"id": "zwembad", "title": "Zwembad De Spetter weer open",
     "text": "Het zwembad De Spetter gaat na een verbouwing van een jaar weer open. " * 4},
]  # fmt: skip


@pytest.fixture
def index(cli: Cli, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    """An index holding ``ARTICLES``, ingested by the command."""
    source = tmp_path / "artikelen.jsonl"
    source.write_text("\n".join(json.dumps(a) for a in ARTICLES), encoding="utf-8")
    folder = tmp_path / "index"
    code, summary, err = cli(capsys, str(source), "--index", str(folder), "--json", "-q")
    assert code == 0 and summary["added"] == 3, err
    return folder


def _listed(cli: Cli, capsys: pytest.CaptureFixture[str], index: Path) -> list[dict]:  # type: ignore[type-arg]
    code, listing, err = cli(capsys, "--list", "--json", "--index", str(index))
    assert code == 0, err
    return listing["articles"]  # type: ignore[no-any-return]


# --- --list -----------------------------------------------------------------------------------


def test_list_as_json_gives_every_article_newest_first(cli, capsys, index) -> None:  # type: ignore[no-untyped-def]
    articles = _listed(cli, capsys, index)
    assert [a["id"] for a in articles] == ["brug", "markt", "zwembad"]  # undated last
    brug = articles[0]
    assert {k: brug[k] for k in ("title", "date", "source", "url")} == {
        "title": "Nieuwe fietsbrug over de Vaart", "date": "2025-04-10", "source": "Testnieuws",
        "url": "https://nieuws.example/brug",
    }  # fmt: skip
    assert all(a["chunks"] >= 1 for a in articles)
    settings = Settings(index_dir=index)
    assert (
        sum(a["chunks"] for a in articles) == open_store(settings, recorded_spec(settings)).count()
    )


def test_list_as_a_table_names_what_a_person_needs_to_remove_one(cli, capsys, index) -> None:  # type: ignore[no-untyped-def]
    assert main(["--list", "--index", str(index)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["Datum", "Chunks", "Bron", "Titel", "Id", "URL"]
    assert lines[1].startswith("2025-04-10") and "Nieuwe fietsbrug over de Vaart" in lines[1]
    assert lines[1].split()[-2:] == ["brug", "https://nieuws.example/brug"]
    assert lines[3].startswith("-") and lines[3].split()[-1] == "zwembad"
    assert lines[-1].startswith("3 artikel(en), ")


def test_list_of_an_index_that_does_not_exist_says_so(cli, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, "--list", "--index", str(tmp_path / "nergens"))
    assert code == 1
    assert "bevat nog geen artikelen" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "nergens").exists()


# --- --remove ---------------------------------------------------------------------------------


def test_remove_takes_an_article_out_of_the_list_and_both_searches(
    cli, capsys, index, fake_embeddings: BagOfWordsEmbeddings
) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(index_dir=index)
    store = open_store(settings, recorded_spec(settings))
    question = fake_embeddings.embed_query("Waar gaat de weekmarkt van Voorbeeldstad heen?")
    assert "markt" in {h.article_id for h in store.dense_search(question, 5)}
    others = {a["id"]: a["chunks"] for a in _listed(cli, capsys, index) if a["id"] != "markt"}

    code, removed, err = cli(capsys, "--remove", "markt", "--index", str(index), "--json")
    assert code == 0, err
    assert removed == {"removed": ["markt"]}

    assert {a["id"]: a["chunks"] for a in _listed(cli, capsys, index)} == others
    store.refresh_if_changed()  # what a running app does before each question
    assert "markt" not in {h.article_id for h in store.dense_search(question, 5)}
    assert store.lexical_search(["weekmarkt"], 5) == []
    assert store.lexical_search(["fietsbrug"], 5)
    assert store.count() == store.lexical.count() == sum(others.values())


def test_remove_with_one_unknown_id_removes_nothing_and_names_it(cli, capsys, index) -> None:  # type: ignore[no-untyped-def]
    before = _listed(cli, capsys, index)
    code, _, err = cli(capsys, "--remove", "markt", "bestaat-niet", "brug", "--index", str(index))
    assert code == 2
    assert err.strip() == (
        "Fout: Dit artikel staat niet in de index: 'bestaat-niet'. Er is niets verwijderd."
    )
    assert _listed(cli, capsys, index) == before


def test_a_removed_feed_article_does_not_come_back(cli, capsys, site: NewsSite, tmp_path) -> None:  # type: ignore[no-untyped-def]
    index = tmp_path / "index"
    feed = ["--feed", site.url("/feed.xml"), "--index", str(index), *CLI_FETCH]
    markt = site.url("/artikel/markt.html")
    code, summary, _ = cli(capsys, *feed)
    assert code == 0 and summary["added"] == 3
    code, _, err = cli(capsys, "--remove", markt, "--index", str(index))
    assert code == 0, err

    # The feed changes (so it is read in full) and even lists the article under a second guid.
    items = standard_items()
    items.append(Item("tn-011", "/artikel/markt.html", "Weekmarkt (opnieuw)"))
    site.feed("/feed.xml", items)
    code, summary, _ = cli(capsys, *feed)
    assert code == 0
    assert summary["added"] == 0
    assert {"path": markt, "note": "eerder verwijderd; niet opnieuw opgenomen"} in summary["notes"]
    assert markt not in {a["id"] for a in _listed(cli, capsys, index)}
    assert site.hits("/artikel/markt.html") == 2  # the new guid's page once; then remembered
    code, summary, _ = cli(capsys, *feed)
    assert summary["added"] == 0 and site.hits("/artikel/markt.html") == 2


@pytest.mark.parametrize(
    "argv",
    [["--list", "data/articles"], ["--remove", "x", "--feed", "http://127.0.0.1:9/f"],
     ["--list", "--reset"], ["--remove", "x", "--prune"]],
)  # fmt: skip
def test_list_and_remove_take_no_input_to_ingest(cli, capsys, tmp_path, argv) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, *argv, "--index", str(tmp_path / "i"))
    assert code == 2
    assert "--list en --remove gaan niet samen met" in err


# --- exit codes -------------------------------------------------------------------------------


def test_help_lists_the_exit_codes() -> None:
    text = build_parser().format_help()
    assert EXIT_CODES in text
    assert all(f"\n  {code} " in EXIT_CODES for code in (0, 1, 2, 130))


def test_a_rerun_that_finds_nothing_new_exits_0_even_when_a_page_fails_again(
    cli, capsys, site: NewsSite, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    site.feed("/feed.xml", standard_items(), conditional=False)  # read in full every time
    feed = ["--feed", site.url("/feed.xml"), "--index", str(tmp_path / "index"), *CLI_FETCH]
    start = time.time()
    assert cli(capsys, *feed, clock=lambda: start)[0] == 0
    # A day later every failed page is due again, and fails again: reported, not fatal.
    code, summary, _ = cli(capsys, *feed, clock=lambda: start + 2 * 24 * 3600)
    assert code == 0
    assert (summary["added"], summary["unchanged"], len(summary["skipped"])) == (0, 0, 4)


def test_an_unreachable_feed_exits_1(cli, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    code, summary, err = cli(
        capsys, "--feed", "http://127.0.0.1:9/feed.xml", "--index", str(tmp_path / "i"), *CLI_FETCH
    )
    assert code == 1
    assert summary["skipped"][0]["reason"].startswith("feed niet opgehaald: niet bereikbaar")


def test_an_index_built_with_another_model_exits_1(cli, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(index_dir=tmp_path / "index")
    open_store(settings, IndexSpec("ander/model", 3, 160, 1), for_writing=True)
    source = tmp_path / "a.txt"
    source.write_text("Een kort bericht over Voorbeeldstad.", encoding="utf-8")
    code, _, err = cli(capsys, str(source), "--index", str(tmp_path / "index"))
    assert code == 1
    assert err.startswith("Fout: De index is met andere instellingen gebouwd")


@pytest.mark.parametrize("argv", [["--bestaat-niet"], ["--list", "--remove", "x"], ["--remove"]])
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


# --- back-off for pages that keep failing -----------------------------------------------------


@pytest.mark.parametrize("conditional", [True, False], ids=["etag", "no-etag"])
def test_a_hanging_page_is_skipped_while_its_back_off_runs_then_tried_again(
    cli, capsys, site: NewsSite, tmp_path, conditional: bool
) -> None:  # type: ignore[no-untyped-def]
    site.feed("/feed.xml", standard_items(), conditional=conditional)
    site.hang("/artikel/traag.html", seconds=30)
    traag = site.url("/artikel/traag.html")
    feed = ["--feed", site.url("/feed.xml"), "--index", str(tmp_path / "index"), *CLI_FETCH]
    start = time.time()

    # 1. the page times out: reported with its reason
    code, summary, _ = cli(capsys, *feed, clock=lambda: start)
    assert code == 0
    assert {"path": traag, "reason": "time-out na 0.5 s"} in summary["skipped"]

    # 2. the same feed again: the page waits for its back-off, and the run is quick
    began = time.monotonic()
    code, summary, err = cli(capsys, *feed, clock=lambda: start + 60)
    assert time.monotonic() - began < 10
    assert code == 0
    assert summary["skipped"] == []
    waiting = {d["path"]: d for d in summary["deferred"]}
    assert waiting[traag]["reason"] == "time-out na 0.5 s"
    assert "overgeslagen (opnieuw proberen na " in err and traag in err
    assert site.hits("/artikel/traag.html") == 1

    # 3. once the back-off has passed, it is tried again
    code, summary, _ = cli(capsys, *feed, clock=lambda: start + RETRY_FIRST_S + 60)
    assert code == 0
    assert site.hits("/artikel/traag.html") == 2
    assert {"path": traag, "reason": "time-out na 0.5 s"} in summary["skipped"]
