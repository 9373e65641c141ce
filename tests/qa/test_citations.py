"""check_citations keeps real citations, drops invented ones and flags unsupported sentences."""

from __future__ import annotations

import pytest

from qa.answer.citations import REFUSAL, SUPPORT_THRESHOLD, check_citations

SOURCES = {
    1: (
        "Poetin heeft Kim Jong-un een Russische limousine van het merk Aurus geschonken. "
        "Hij kreeg de auto tijdens een bezoek aan Pyongyang. Kim bedankte hem uitgebreid."
    ),
    2: (
        "Het Nederlands elftal heeft in Amsterdam met 2-0 gewonnen van Duitsland. "
        "Beide doelpunten vielen na de rust."
    ),
}


def test_valid_markers_are_kept() -> None:
    answer = "Poetin gaf Kim een limousine van het merk Aurus [1]."
    check = check_citations(answer, SOURCES)
    assert check.text == answer
    assert check.cited == (1,)
    assert check.warnings == ()
    assert check.unsupported == ()
    (sentence, n, score), *_ = check.support
    assert (sentence, n) == ("Poetin gaf Kim een limousine van het merk Aurus.", 1)
    assert score >= SUPPORT_THRESHOLD


def test_a_marker_naming_no_source_is_removed_and_reported() -> None:
    check = check_citations(
        "Poetin gaf Kim een limousine [1][9]. Nederland won van Duitsland [9].", SOURCES
    )
    assert check.text == "Poetin gaf Kim een limousine [1]. Nederland won van Duitsland."
    assert check.cited == (1,)
    assert check.warnings == ("Bron [9] bestaat niet; verwijzing verwijderd.",)


def test_invalid_numbers_inside_a_list_are_dropped_from_it() -> None:
    check = check_citations("Poetin gaf Kim een limousine [1, 9, 12].", SOURCES)
    assert check.text == "Poetin gaf Kim een limousine [1]."
    assert check.warnings == (
        "Bron [9] bestaat niet; verwijzing verwijderd.",
        "Bron [12] bestaat niet; verwijzing verwijderd.",
    )


@pytest.mark.parametrize(
    "marker", ["[1, 2]", "[1,2]", "[1][2]", "[1] [2]", "[1;2]", "[1-2]", "[bron 1 en 2]"]
)
def test_several_sources_in_one_marker(marker: str) -> None:
    answer = f"Poetin gaf Kim een limousine en Nederland won met 2-0 van Duitsland {marker}."
    check = check_citations(answer, SOURCES)
    assert check.cited == (1, 2)
    assert {n for _s, n, _score in check.support} == {1, 2}
    # each source holds half of the claim; together they support it
    assert check.unsupported == ()
    assert check.warnings == ()


def test_a_sentence_the_cited_source_does_not_support_is_flagged() -> None:
    wrong = "Poetin gaf Kim een limousine van het merk Aurus [2]."
    check = check_citations(wrong, SOURCES)
    assert check.unsupported == ("Poetin gaf Kim een limousine van het merk Aurus.",)
    assert check.warnings == (
        "Niet onderbouwd door bron [2]: Poetin gaf Kim een limousine van het merk Aurus.",
    )
    [(_sentence, n, score)] = check.support
    assert n == 2 and score < SUPPORT_THRESHOLD


def test_a_made_up_sentence_is_flagged_even_with_the_right_source() -> None:
    check = check_citations(
        "Poetin gaf Kim een limousine [1]. De Chinese president reisde per trein mee [1].",
        SOURCES,
    )
    assert check.unsupported == ("De Chinese president reisde per trein mee.",)
    assert len(check.warnings) == 1
    assert check.warnings[0].startswith("Niet onderbouwd door bron [1]: De Chinese president")


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    check = check_citations(
        "Poetin gaf Kim een Aurus-limousine. [1] Nederland won met 2-0 van Duitsland. [2]",
        SOURCES,
    )
    assert check.warnings == ()
    assert [(s, n) for s, n, _ in check.support] == [
        ("Poetin gaf Kim een Aurus-limousine.", 1),
        ("Nederland won met 2-0 van Duitsland.", 2),
    ]


def test_a_claim_without_any_citation_is_reported() -> None:
    check = check_citations(
        "Poetin gaf Kim een limousine [1]. Kim reed er meteen mee door Pyongyang en Wladiwostok.",
        SOURCES,
    )
    assert check.warnings == (
        "Zin zonder bronvermelding: Kim reed er meteen mee door Pyongyang en Wladiwostok.",
    )


def test_the_refusal_needs_no_source() -> None:
    check = check_citations(REFUSAL, SOURCES)
    assert check == check_citations(REFUSAL, {})
    assert check.text == REFUSAL
    assert check.cited == ()
    assert check.warnings == ()


def test_no_sources_at_all_removes_every_marker() -> None:
    check = check_citations("Poetin gaf Kim een limousine [1].", {})
    assert check.text == "Poetin gaf Kim een limousine."
    assert check.cited == ()
    assert check.warnings == ("Bron [1] bestaat niet; verwijzing verwijderd.",)


def test_a_year_in_brackets_is_not_a_citation() -> None:
    check = check_citations("Dat gebeurde in [2019] al eens [1].", SOURCES)
    assert "[2019]" in check.text
    assert check.cited == (1,)
