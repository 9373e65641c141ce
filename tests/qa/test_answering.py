"""The offline answerer and the pipeline, with the fake embedder: sentence choice, word order,
answer types, refusals, follow-ups, and validation of the question."""

from __future__ import annotations

import pytest

from qa.answer_types import AnswerType, expected_type, has_type
from qa.errors import IndexEmptyError, InvalidQuestionError
from qa.extractive import extract_answer
from qa.pipeline import REFUSAL, Pipeline
from qa.types import Hit

GIFT = "Tijdens het bezoek heeft Poetin een limousine, een theeservies en een dolk gegeven aan Kim."
RETURN = "Kim Jong-un gaf op zijn beurt kunst aan Poetin."


def _hit(text: str, title: str = "Bezoek") -> Hit:
    from qa.text import split_sentences

    text = "Het bezoek duurde twee dagen. " + text  # no candidate is the article's first line
    return Hit("c1", "a1", text, 0, tuple(split_sentences(text)), title=title, score=1.0)


def test_word_order_tells_who_gave_what_to_whom() -> None:
    hit = _hit(f"{GIFT} {RETURN}")
    assert extract_answer("Wat gaf Poetin aan Kim?", [hit]).text == GIFT
    assert extract_answer("Wat gaf Kim aan Poetin?", [hit]).text == RETURN


def test_answer_type_prefers_the_sentence_with_a_date() -> None:
    hit = _hit(
        "Poetin bezocht Noord-Korea al eerder. Het eerdere bezoek van Poetin was in het jaar 2000."
    )
    answer = extract_answer("Wanneer bezocht Poetin Noord-Korea eerder?", [hit])
    assert "2000" in answer.text


def test_refuses_when_the_kind_of_answer_is_missing() -> None:
    answer = extract_answer("Hoeveel kostte de limousine?", [_hit(GIFT)])
    assert answer.refused and "bedrag" in answer.reason


def test_refuses_when_a_name_in_the_question_is_absent() -> None:
    answer = extract_answer("Wat gaf Poetin aan Biden?", [_hit(GIFT)])
    assert answer.refused and "Biden" in answer.reason


def test_adds_the_previous_sentence_when_the_answer_points_back() -> None:
    hit = _hit("Poetin bezocht in 2000 Kim Jong-Il. Hij was de vader van Kim Jong-un.")
    answer = extract_answer("Wie was de vader van Kim Jong-un?", [hit])
    assert answer.text.startswith("Poetin bezocht in 2000 Kim Jong-Il.")


@pytest.mark.parametrize(
    ("question", "atype"),
    [
        ("Wie is de nieuwe trainer?", AnswerType.PERSON),
        ("Wanneer opende de brug?", AnswerType.DATE),
        ("In welk jaar stierf hij?", AnswerType.DATE),
        ("Waar ligt het circuit?", AnswerType.PLACE),
        ("Hoeveel mensen kwamen om?", AnswerType.NUMBER),
        ("Hoeveel kostte de limousine?", AnswerType.MONEY),
        ("Waarom stopte hij?", AnswerType.REASON),
        ("Welke partij won?", AnswerType.PERSON),
        ("Wat gaf Poetin aan Kim?", None),
    ],
)
def test_question_words_map_to_answer_types(question: str, atype: AnswerType | None) -> None:
    assert expected_type(question) == atype


def test_type_detectors() -> None:
    assert has_type("Het kost 3 miljoen euro.", AnswerType.MONEY)
    assert not has_type("Het was een mooie dag.", AnswerType.MONEY)
    assert has_type("Dat was in 2011.", AnswerType.DATE)
    assert has_type("Hij stopte omdat hij moe was.", AnswerType.REASON)
    assert has_type("Er kwamen tweehonderd mensen.", AnswerType.NUMBER)


# --- the pipeline ------------------------------------------------------------------------------


def test_pipeline_answers_with_a_cited_source_and_highlight(sample_pipeline: Pipeline) -> None:
    # (The fake embedder cannot tell who gave what; the real model's test is in test_quality.)
    answer = sample_pipeline.ask("Wat gaf Poetin tijdens het bezoek aan Kim?")
    assert not answer.refused and answer.cited == (1,)
    assert "limousine" in answer.answer and answer.answer.endswith("[1]")
    source = answer.sources[0]
    assert source.article_id == "nos-poetin-kim-2024-06.txt" and source.source == "NOS Nieuws"
    start, end = source.highlight  # type: ignore[misc]
    assert "limousine" in source.text[start:end]
    assert answer.to_json()["sources"][0]["highlight"] == [start, end]


def test_pipeline_refuses_in_dutch_with_the_closest_sources(sample_pipeline: Pipeline) -> None:
    answer = sample_pipeline.ask("Hoeveel kostte de limousine?")
    assert answer.refused and answer.answer.startswith(REFUSAL)
    assert answer.sources and answer.cited == ()


def test_follow_up_uses_the_history(sample_pipeline: Pipeline) -> None:
    answer = sample_pipeline.ask("En wat gaf Kim terug?", history=["Wat gaf Poetin aan Kim?"])
    assert "Poetin" in answer.query
    assert "kunst" in answer.answer


@pytest.mark.parametrize("question", ["", "   ", "?!?", "x" * 5000])
def test_unusable_questions_get_a_dutch_message(sample_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestionError) as err:
        sample_pipeline.ask(question)
    assert str(err.value)[:1].isupper()


def test_empty_index_says_how_to_fill_it(settings, fake_embeddings, store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IndexEmptyError, match="python -m ingest"):
        Pipeline(settings, fake_embeddings, store).ask("Wat gaf Poetin aan Kim?")
