"""Anchors: the names a question is about must be mentioned by the answer's article, allowing
for the ways news text varies a name."""

from __future__ import annotations

import pytest

from qa.answer.anchors import anchors, mentions, missing_anchors, missing_counted


def test_anchors_are_the_names_and_numbers_of_the_question() -> None:
    assert anchors("Wat gaf Poetin in 2024 aan Kim?") == ["Poetin", "2024", "Kim"]
    assert anchors("Wat zeiden de Russische media?") == []  # an adjective, not a name


@pytest.mark.parametrize(
    ("text", "anchor"),
    [
        ("De Noord-Ierse Nobelprijswinnaar opende de conferentie.", "Noord-Ierland"),
        ("Het Amerikaanse hooggerechtshof oordeelde anders.", "VS"),
        ("De Europese Commissie ziet een dominante positie.", "Brussel"),
        ("Zij won de proloog van de Ronde van Italië.", "Giro"),
        ("Elk duel van de World League moest 4000 toeschouwers trekken.", "League-wedstrijd"),
        ("De Tibetaanse ploeg verloor.", "Tibet"),
        ("Oekraïne vraagt om hulp.", "Oekraine"),
    ],
)
def test_a_name_is_found_in_its_news_variants(text: str, anchor: str) -> None:
    assert mentions(text, anchor)


@pytest.mark.parametrize(
    ("text", "anchor"),
    [
        ("Poetin gaf Kim een limousine.", "Biden"),
        ("De Bruggen en Wegen van Oostende.", "Brussel"),  # a shared start is not enough
        ("Het World Port Tournament in Rotterdam.", "Tour"),  # nor a short name's start
        ("Zij gingen bidden voor vrede.", "Biden"),  # nor a lower-case word
    ],
)
def test_another_name_is_not_a_mention(text: str, anchor: str) -> None:
    assert not mentions(text, anchor)


def test_a_surname_that_ends_like_a_demonym_is_still_a_name() -> None:
    assert anchors("Hoe oud was Sven Kramer?") == ["Sven", "Kramer"]
    assert anchors("Wat zei de Russische president?") == []  # a description


def test_only_a_distinct_number_is_an_anchor() -> None:
    # "de 5 kilometer" is "de 5000 meter" in the article; "A28", "500cc" and "300" are distinct
    assert anchors("Hoe snel reed Wüst de 5 kilometer?") == ["Wüst"]
    assert anchors("Wat gebeurde er op de A28 bij de 500cc en met 300 mensen?") == [
        "A28", "500cc", "300",
    ]  # fmt: skip


def test_missing_anchors_names_what_the_article_lacks() -> None:
    text = "Poetin heeft Kim Jong-un een limousine gegeven."
    assert missing_anchors("Wat gaf Poetin aan Biden?", text) == ["Biden"]
    assert missing_anchors("Wat gaf Poetin aan Kim?", text) == []


def test_a_year_is_missing_only_when_the_articles_date_says_another_year() -> None:
    # news reports an event by its weekday, not its year
    text = "De PVV van Geert Wilders heeft de verkiezingen van woensdag gewonnen."
    question = "Hoeveel zetels haalde Wilders bij de verkiezingen van 2023?"
    assert missing_anchors(question, text) == []  # undated: it may well be about 2023
    assert missing_anchors(question, text, "2023-11-23") == []
    assert missing_anchors(question, text, "2024-01-05") == []  # "vorig jaar"
    assert missing_anchors(question, text, "2017-03-16") == ["2023"]
    assert missing_anchors(question, text + " Dat was in 2023.", "2017-03-16") == []


def test_a_count_of_something_the_article_never_names_is_flagged() -> None:
    text = "Heerenveen verloor met 3 - 2 van de Letten. Katasonov scoorde twee keer."
    assert missing_counted("Hoeveel toeschouwers zagen de wedstrijd?", text) == "toeschouwers"
    assert (
        missing_counted("Hoeveel doelpunten maakte Katasonov?", text + " Twee doelpunten.") is None
    )
    assert missing_counted("Hoeveel mensen kwamen er?", text) is None  # too general to test
    # a derived form of the counted noun, and money under any name, count as named
    crash = "Aan boord zaten 283 passagiers. Van hen hadden er 196 de Nederlandse nationaliteit."
    assert missing_counted("Hoeveel Nederlanders zaten er aan boord?", crash) is None
    assert missing_counted("Hoeveel prijzengeld hoort erbij?", "Een bedrag van 8 miljoen.") is None
    assert (
        missing_counted("Hoeveel meldingen kwamen er?", "Er kwamen 2.000 schademeldingen.") is None
    )
    # a verb after "hoeveel" counts nothing; jobs go by many names
    assert missing_counted("Hoeveel gaat de brug kosten?", "De brug kost 42 miljoen.") is None
    assert missing_counted("Hoeveel arbeidsplaatsen verdwijnen?", "Er gaan 140 banen weg.") is None


def test_a_counted_noun_is_found_by_its_news_synonyms() -> None:
    text = "Er waren 12.450 toeschouwers in het stadion."
    assert missing_counted("Hoeveel publiek was er bij het duel?", text) is None
    assert missing_counted("Hoeveel doelpunten vielen er?", text) == "doelpunten"
