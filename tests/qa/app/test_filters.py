"""The chat's filters: checked with a Dutch message, applied by both searches, and an answer that
says when they left nothing to answer from."""

from __future__ import annotations

import pytest

from qa.app.chat import ChatApp
from qa.app.filters import NOTHING_LEFT, describe, left_nothing, make_filters, parse_date
from qa.errors import InvalidQuestionError
from qa.index.retrieval import NO_FILTERS, Filters
from qa.pipeline import Pipeline
from qa.text import analyze
from tests.qa.app.conftest import make_answer

NOS = "NOS Nieuws"
NOS_ID = "nos-poetin-kim-2024-06.txt"
LASSY_NEWS = "Lassy Small, krantentekst (UD Dutch Alpino)"


@pytest.mark.parametrize("date", ["2024-06-19", "2024-06", "2024", " 2024-02-29 "])
def test_iso_dates_are_accepted(date: str) -> None:
    assert parse_date(date, "Vanaf") == date.strip()


@pytest.mark.parametrize(
    "date", ["19-06-2024", "2024-13-01", "2023-02-29", "2024/06/19", "gisteren", "24", 2024.5]
)
def test_a_bad_date_is_a_dutch_message_quoting_it(date: object) -> None:
    with pytest.raises(InvalidQuestionError) as err:
        parse_date(date, "Tot en met")
    assert (
        f"\u2018{str(date).strip()}\u2019 bij \u2018Tot en met\u2019 is geen geldige datum"
        in str(err.value)
    )
    assert "JJJJ-MM-DD" in str(err.value)


def test_make_filters_reads_the_page_and_checks_the_range() -> None:
    assert make_filters(None, "", "  ") == NO_FILTERS
    assert make_filters([], None, None) == NO_FILTERS
    assert make_filters([NOS, " ", NOS], "2024", "2024-06-30") == Filters(
        (NOS,), "2024", "2024-06-30"
    )
    assert make_filters(NOS).sources == (NOS,)  # one source as a plain string (the API)
    assert make_filters(None, "2024-06", "2024-06") == Filters((), "2024-06", "2024-06")
    with pytest.raises(
        InvalidQuestionError, match=r"begindatum \(2024-07-01\) ligt na de einddatum"
    ):
        make_filters(None, "2024-07-01", "2024-06")


def test_filters_in_words() -> None:
    assert describe(Filters((NOS,), "2024-06-01", "2024")) == (
        "Bron: NOS Nieuws \u00b7 vanaf 1 juni 2024 \u00b7 tot en met 2024"
    )
    assert describe(Filters((NOS, "X"))) == "Bronnen: NOS Nieuws, X"


def test_left_nothing_only_when_filtered_and_nothing_retrieved() -> None:
    empty = make_answer("Dat staat niet in de artikelen.", refused=True, sources=(), cited=())
    assert left_nothing(empty, Filters((NOS,)))
    assert not left_nothing(empty, NO_FILTERS)  # unfiltered: an ordinary refusal
    assert not left_nothing(make_answer(), Filters((NOS,)))


def test_both_searches_apply_the_filters(sample_pipeline: Pipeline) -> None:
    """Dense and BM25 each honour sources and dates (the retriever fuses what they return)."""
    store = sample_pipeline.store
    query = "Poetin Kim Noord-Korea wedstrijd oorlog"
    terms, vector = analyze(query), sample_pipeline.embeddings.embed_query(query)

    def search(**kwargs: object) -> tuple[set[str | None], set[str | None]]:
        dense = store.dense_search(vector, 30, **kwargs)  # type: ignore[arg-type]
        lexical = store.get_hits([c for c, _ in store.lexical_search(terms, 30, **kwargs)])  # type: ignore[arg-type]
        return {h.source for h in dense}, {h.source for h in lexical}

    dense, lexical = search()
    assert {NOS, LASSY_NEWS} <= dense and {NOS, LASSY_NEWS} <= lexical  # unfiltered: both
    assert search(sources=[LASSY_NEWS]) == ({LASSY_NEWS}, {LASSY_NEWS})
    assert search(date_from="2024-06") == ({NOS}, {NOS})  # the only dated article
    assert search(date_to="2023-12-31") == (set(), set())  # undated articles are left out


def test_a_source_filter_changes_which_article_answers(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    free = list(app.respond("Wat gaf Poetin aan Kim?", []))[-1].turns[-1].answer
    assert free is not None and free.sources[0].article_id == NOS_ID
    other = list(app.respond("Wat gaf Poetin aan Kim?", [], [LASSY_NEWS]))[-1]
    answer = other.turns[-1].answer
    assert answer is not None
    assert NOS_ID not in {s.article_id for s in answer.sources}
    assert all(s.source == LASSY_NEWS for s in answer.sources)
    assert "Filters: Bron: Lassy Small" in other.chat[-1]["content"]


def test_filters_that_leave_nothing_say_so(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    last = list(app.respond("Wat gaf Poetin aan Kim?", [], None, "2030-01-01", ""))[-1]
    assert NOTHING_LEFT.split(".")[0] in last.chat[-1]["content"]
    assert last.turns[-1].answer is not None and last.turns[-1].answer.refused
    api = app.ask("Wat gaf Poetin aan Kim?", sources=["Bestaat niet"])
    assert api["answer"] == NOTHING_LEFT and api["refused"] is True and api["sources"] == []


def test_a_bad_date_is_answered_in_the_chat_and_the_api(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    last = list(app.respond("Wat gaf Poetin aan Kim?", [], None, "31-12-2024"))[-1]
    assert "geen geldige datum" in last.chat[-1]["content"]
    assert not last.turns[-1].answered
    assert "geen geldige datum" in app.ask("Wat gaf Poetin aan Kim?", date_to="morgen")["error"]
