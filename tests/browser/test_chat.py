"""The chat as a user sees it: the real app.py, the real model and index, a real Chromium.

Each test starts a fresh page (an empty conversation) on the one app the module serves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SEARCHING, ask, screenshot, upload

pytestmark = pytest.mark.browser

NOS_TITLE = "Poetin haalt in Pyongyang banden aan met Noord-Korea, ook militair"

BRIDGE = """Zonnebrug in Voorbeeldstad feestelijk geopend

Dit is een testartikel voor Vraagbaak; Voorbeeldstad en de Zonnebrug bestaan niet. De nieuwe \
Zonnebrug in Voorbeeldstad werd dinsdag geopend door burgemeester Fictief. De brug over de \
Testrivier is 240 meter lang en kostte twaalf miljoen euro. Fietsers en wandelaars mogen er \
gratis over.
"""

CAKES = """Taartwedstrijd in Proefdorp

Dit is een testartikel voor Vraagbaak; Proefdorp bestaat niet. In Proefdorp won bakker Jansen \
zaterdag de jaarlijkse taartwedstrijd. De winnende taart van bakker Jansen heette \
<img src=x onerror="window.__xss=1"> en was gemaakt van aardbeien. De tweede prijs ging naar de \
taart <script>window.__xss=2</script> van bakker Pietersen. Het feest trok vijfhonderd bezoekers.
"""


def test_answer_cites_the_article_and_shows_its_sentences(page: Any) -> None:
    answer = ask(page, "Wat gaf Poetin aan Kim?")
    text = answer.inner_text()
    for word in ("limousine", "theeservies", "dolk", "[1]"):
        assert word in text
    assert "Antwoord uit de artikelen (offline)" in page.locator("#modus").inner_text()

    answer.locator("a.vb-cite", has_text="[1]").first.click()
    page.wait_for_function("location.hash === '#bron-1-1'")
    source = page.locator("#bron-1-1")
    source.wait_for(state="visible")
    assert page.locator("#bronnen .vb-bron").count() == 1  # one entry per article
    assert NOS_TITLE in source.locator(".vb-title").inner_text()
    assert "NOS Nieuws" in source.locator(".vb-meta").inner_text()
    assert "limousine" in source.locator(".vb-zinnen").inner_text()  # the cited sentence
    assert source.evaluate("el => el.open") is True
    assert "Ook doorzocht:" in page.locator("#bronnen .vb-searched").inner_text()

    whole = source.locator("details.vb-artikel")
    assert not whole.locator("mark").first.is_visible()  # the article text is folded away
    whole.locator("summary").click()
    assert "limousine" in " ".join(whole.locator("mark").all_inner_texts())
    assert "dictator Kim Jong-un" in whole.locator(".vb-passage").inner_text()  # the rest


def test_follow_up_uses_the_conversation(page: Any) -> None:
    ask(page, "Wat gaf Poetin aan Kim?")
    answer = ask(page, "En wat gaf Kim terug?")
    assert "kunst" in answer.inner_text()
    assert "kunst" in page.locator("#bronnen .vb-zinnen").first.inner_text()

    page.get_by_test_id("bot").first.click()  # the first answer's sources come back
    page.locator("#bron-1-1").wait_for(state="visible")
    assert "limousine" in page.locator("#bron-1-1 .vb-zinnen").inner_text()
    screenshot(page, "screenshot-chat.png")

    page.get_by_role("button", name="Nieuw gesprek").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=bot]').length === 0")
    assert "Stel een vraag" in page.locator("#bronnen").inner_text()


def test_uploaded_article_can_be_asked_about(page: Any, tmp_path: Path) -> None:
    article = tmp_path / "zonnebrug-voorbeeldstad.txt"
    article.write_text(BRIDGE, encoding="utf-8")
    report = upload(page, article)
    assert "1 artikel toegevoegd" in report and "zonnebrug-voorbeeldstad.txt" in report

    ask(page, "Wie opende de Zonnebrug in Voorbeeldstad?")  # what it answers: the eval's job
    assert "Zonnebrug in Voorbeeldstad feestelijk geopend" in page.locator("#bron-1-1").inner_text()


def test_html_in_articles_and_questions_never_runs(page: Any, tmp_path: Path) -> None:
    article = tmp_path / "taartwedstrijd-proefdorp.txt"
    article.write_text(CAKES, encoding="utf-8")
    assert "1 artikel toegevoegd" in upload(page, article)

    first = ask(page, "Hoe heette de winnende taart van bakker Jansen?")
    assert '<img src=x onerror="window.__xss=1">' in first.inner_text()  # shown as text
    second = ask(page, "Welke taart van bakker Pietersen won de tweede prijs?")
    assert "<script>window.__xss=2</script>" in second.inner_text()
    assert "<script>window.__xss=2</script>" in page.locator("#bronnen").inner_text()
    page.locator("#bronnen details.vb-artikel summary").first.click()  # the article text too
    assert "<script>" in page.locator("#bronnen .vb-passage").first.inner_text()
    ask(page, 'Wat is <img src=x onerror="window.__xss=3"> bij bakker Jansen?')
    assert 'onerror="window.__xss=3"' in page.get_by_test_id("user").last.inner_text()

    page.wait_for_timeout(500)  # an injected <img src=x> would have fired its onerror by now
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator('img[src="x"]').count() == 0


def test_an_example_question_is_asked_with_one_click(page: Any) -> None:
    example = "Wanneer bezocht Poetin Noord-Korea eerder?"
    page.locator("button.gallery-item", has_text=example).click()
    page.wait_for_function(
        """(searching) => {
            const bot = document.querySelector('[data-testid=bot]');
            return bot !== null && !bot.innerText.includes(searching);
        }""",
        arg=SEARCHING,
    )
    assert page.get_by_test_id("user").last.inner_text() == example
    assert "[1]" in page.get_by_test_id("bot").last.inner_text()  # what it says: the eval's job
    page.locator("#bron-1-1").wait_for(state="visible")
