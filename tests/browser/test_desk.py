"""The reader's desk in a real Chromium: the Artikelen tab (list, search, delete with a
confirmation), the chat's filters, a conversation that survives a reload, the Markdown export
and 👍/👎 feedback into feedback.jsonl.

One app serves the module; the test that deletes an article runs last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ServedApp, ask, open_tab, screenshot, wait_until_loaded

pytestmark = pytest.mark.browser

NOS_TITLE = "Poetin haalt in Pyongyang banden aan met Noord-Korea, ook militair"
LASSY_NEWS = "Lassy Small, krantentekst (UD Dutch Alpino)"


def _search(page: Any, text: str, count: str) -> None:
    page.locator("#zoeken textarea, #zoeken input").first.fill(text)
    page.locator("#aantal", has_text=count).wait_for()


def _rows(page: Any) -> list[str]:
    return list(page.locator("#artikelen-tabel [role=row].virtual-row").all_inner_texts())


def _set_filter(page: Any, field: str, value: str) -> None:
    if not page.locator(f"#{field}").is_visible():
        page.locator("#filters").get_by_role("button", name="Filters").click()
    box = page.locator(f"#{field} textarea, #{field} input").first
    box.fill(value)
    box.blur()


def test_articles_tab_lists_and_searches(page: Any) -> None:
    open_tab(page, "Artikelen")
    page.locator("#aantal", has_text="61 artikelen").wait_for()
    assert NOS_TITLE in _rows(page)[0]  # newest first
    assert "juni 2024" in _rows(page)[0] and "NOS Nieuws" in _rows(page)[0]
    screenshot(page, "screenshot-articles.png")

    _search(page, "pyongyang", "1 van 61 artikelen")
    assert len(_rows(page)) == 1 and NOS_TITLE in _rows(page)[0]
    _search(page, "wikipedia", "22 van 61 artikelen")
    assert all("Wikipedia" in row for row in _rows(page))
    _search(page, "", "61 artikelen")


def test_a_source_filter_changes_which_article_answers(page: Any) -> None:
    ask(page, "Wat gaf Poetin aan Kim?")
    assert NOS_TITLE in page.locator("#bron-1-1").inner_text()

    page.locator("#filters").get_by_role("button", name="Filters").click()
    page.locator("#filter-bronnen input").first.click()
    page.get_by_role("option", name=LASSY_NEWS).click()
    page.keyboard.press("Escape")
    answer = ask(page, "Wat gaf Poetin aan Kim?")
    assert "Filters: Bron: Lassy Small, krantentekst" in answer.inner_text()
    panel = page.locator("#bronnen").inner_text()
    assert NOS_TITLE not in panel and "limousine" not in answer.inner_text()


def test_filters_that_leave_nothing_or_a_bad_date_say_so_in_dutch(page: Any) -> None:
    _set_filter(page, "filter-vanaf", "2030-01-01")
    answer = ask(page, "Wat gaf Poetin aan Kim?")
    assert "Met deze filters blijft er geen artikel over" in answer.inner_text()

    _set_filter(page, "filter-vanaf", "31-12-2024")
    answer = ask(page, "Wat gaf Poetin aan Kim?")
    bad = "\u201831-12-2024\u2019 bij \u2018Vanaf\u2019 is geen geldige datum"
    assert bad in answer.inner_text()


def test_the_conversation_survives_a_reload_until_a_new_one_starts(page: Any) -> None:
    ask(page, "Wat gaf Poetin aan Kim?")
    ask(page, "En wat gaf Kim terug?")
    page.reload(wait_until="domcontentloaded")
    wait_until_loaded(page)
    assert page.get_by_test_id("bot").count() == 2
    assert "kunst" in page.get_by_test_id("bot").last.inner_text()
    page.locator("#bron-2-1").wait_for(state="visible")  # the sources panel came back too

    page.get_by_role("button", name="Nieuw gesprek").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=bot]').length === 0")
    page.reload(wait_until="domcontentloaded")
    wait_until_loaded(page)
    assert page.get_by_test_id("bot").count() == 0
    assert "Stel een vraag" in page.locator("#bronnen").inner_text()


def test_export_downloads_the_conversation_as_markdown(page: Any) -> None:
    ask(page, "Wat gaf Poetin aan Kim?")
    export = page.locator("#exporteer")
    page.wait_for_function("!document.querySelector('#exporteer').disabled")
    with page.expect_download() as download:
        export.click()
    assert download.value.suggested_filename.endswith(".md")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## Vraag 1: Wat gaf Poetin aan Kim?" in text
    assert NOS_TITLE in text and "limousine" in text and "[1]" in text


def test_thumbs_down_with_a_comment_lands_in_feedback_jsonl(
    page: Any, served_app: ServedApp
) -> None:
    log = served_app.index / "feedback.jsonl"
    before = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    answer = ask(page, "Wat gaf Poetin aan Kim?")
    answer.hover()
    page.get_by_role("button", name="Vind ik niet leuk").last.click()
    comment = page.locator("#opmerking textarea")
    comment.wait_for(state="visible")
    assert "Wat klopte er niet?" in page.locator("#opmerking").inner_text()
    comment.fill("De dolk wordt niet genoemd.")
    page.get_by_role("button", name="Opmerking versturen").click()
    page.locator("#feedback-bericht", has_text="je opmerking is opgeslagen").wait_for()

    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    new = lines[len(before) :]
    assert new[-1]["verdict"] == "down" and new[-1]["comment"] == "De dolk wordt niet genoemd."
    assert new[-1]["question"] == "Wat gaf Poetin aan Kim?"
    assert new[-1]["cited"] == ["nos-poetin-kim-2024-06.txt"]


def test_delete_with_confirmation_and_the_chat_forgets_the_article(page: Any) -> None:
    before = ask(page, "Waar ligt Spa-Francorchamps?")
    cited = page.locator("#bron-1-1 .vb-title").inner_text()
    assert "[1]" in before.inner_text()

    open_tab(page, "Artikelen")
    page.locator("#aantal", has_text="61 artikelen").wait_for()
    _search(page, cited[:40], "1 van 61 artikelen")
    page.locator("#artikelen-tabel").get_by_test_id("cell-0-0").click()
    page.locator("#selectie", has_text=cited[:20]).wait_for()
    page.get_by_role("button", name="Verwijderen", exact=True).click()
    confirm = page.locator(".vb-confirm")
    confirm.wait_for(state="visible")
    assert "Weet je zeker dat je dit artikel wilt verwijderen?" in confirm.inner_text()
    assert cited in confirm.inner_text()

    page.get_by_role("button", name="Annuleren").click()  # first: no
    page.get_by_role("button", name="Ja, verwijderen").wait_for(state="hidden")
    assert "1 van 61 artikelen" in page.locator("#aantal").inner_text()

    page.get_by_role("button", name="Verwijderen", exact=True).click()
    page.get_by_role("button", name="Ja, verwijderen").click()
    page.locator("#artikelen-bericht", has_text="1 artikel verwijderd").wait_for()
    page.locator("#aantal", has_text="0 van 60 artikelen").wait_for()
    _search(page, "", "60 artikelen")

    open_tab(page, "Gesprek")
    ask(page, "Waar ligt Spa-Francorchamps?")
    assert cited not in page.locator("#bronnen").inner_text()
