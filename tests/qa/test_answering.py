"""The offline answer path and the pipeline, with the fake embedder and the fake reader: the
candidates' features (word order, answer types, the asked noun), how the answer's sentences are
put together, follow-ups, refusals' form and validation of the question. The trained reader's
choices are tested with the real model in test_reader.py and test_quality.py."""

from __future__ import annotations

from typing import Any

import pytest

from qa.answer.answer_types import (
    AnswerType,
    counted_focus,
    expected_type,
    focus_noun,
    has_type,
    must_have_type,
    named_focus,
    property_holder,
)
from qa.answer.candidates import candidates
from qa.answer.extractive import Extraction, extract_answer
from qa.answer.question import parse_question
from qa.errors import IndexEmptyError, InvalidQuestionError
from qa.pipeline import REFUSAL, Pipeline
from qa.types import Hit
from tests.conftest import OverlapReader

GIFT = "Tijdens het bezoek heeft Poetin een limousine, een theeservies en een dolk gegeven aan Kim."
RETURN = "Kim Jong-un gaf op zijn beurt kunst aan Poetin."


def _extract(question: str, hits: list[Hit], **kwargs: Any) -> Extraction:
    """The offline answer with the fake reader (tests of the answer path, not of the model)."""
    return extract_answer(parse_question(question), hits, reader=OverlapReader(), **kwargs)


def _hit(text: str, title: str = "Bezoek") -> Hit:
    from qa.text import split_sentences

    text = "Het bezoek duurde twee dagen. " + text  # no candidate is the article's first line
    return Hit("c1", "a1", text, 0, tuple(split_sentences(text)), title=title, score=1.0)


def test_word_order_tells_who_gave_what_to_whom() -> None:
    hit = _hit(f"{GIFT} {RETURN}")
    assert _extract("Wat gaf Poetin aan Kim?", [hit]).text == GIFT
    assert _extract("Wat gaf Kim aan Poetin?", [hit]).text == RETURN


def test_answer_type_prefers_the_sentence_with_a_date() -> None:
    hit = _hit(
        "Poetin bezocht Noord-Korea al eerder. Het eerdere bezoek van Poetin was in het jaar 2000."
    )
    answer = _extract("Wanneer bezocht Poetin Noord-Korea eerder?", [hit])
    assert "2000" in answer.text


def test_adds_the_previous_sentence_when_the_answer_points_back() -> None:
    hit = _hit("Poetin bezocht in 2000 Kim Jong-Il. Hij was de vader van Kim Jong-un.")
    answer = _extract("Wie was de vader van Kim Jong-un?", [hit])
    assert answer.text.startswith("Poetin bezocht in 2000 Kim Jong-Il.")


def test_reads_the_whole_article_beyond_the_retrieved_passage() -> None:
    from qa.text import split_sentences

    article = (
        "Sparta zoekt een nieuwe trainer. Van Hanegem vertrekt. De club zag Rijkaard al lang "
        "als opvolger. Van Hanegem stopt omdat de club zich onvoldoende heeft versterkt."
    )
    first = Hit("c0", "a1", article[:63], 0, tuple(split_sentences(article[:63])), score=1.0)
    whole = [first, Hit("c1", "a1", article, 0, tuple(split_sentences(article)))]
    question = "Waarom stopt Van Hanegem bij Sparta?"
    assert "versterkt" not in _extract(question, [first]).text
    answer = _extract(question, [first], read_article=lambda article_id: whole)
    assert "onvoldoende heeft versterkt" in answer.text


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
        ("Hoe heet de hengst van de ruiter?", AnswerType.NAME),
        ("Als hoeveelste eindigde hij?", AnswerType.ORDINAL),
        ("Wat gaat Rijkaard bij Sparta verdienen?", AnswerType.MONEY),
        ("Hoeveel transfergeld biedt Parma?", AnswerType.MONEY),
        ("Wat was de oorzaak van de brand?", AnswerType.REASON),
        ("Hoe oud is de wethouder?", AnswerType.AGE),
        ("Hoeveel is het schilderij waard?", AnswerType.MONEY),
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


@pytest.mark.parametrize(
    ("sentence", "atype", "question", "expected"),
    [
        # counts are not dates, match scores or rankings; time is counted only when asked
        ("Hij werd geboren op 11 september 1962.", AnswerType.NUMBER, "Hoeveel stemmen?", False),
        ("Heerenveen verloor met 3 - 2.", AnswerType.NUMBER, "Hoeveel toeschouwers?", False),
        ("Al na zes minuten scoorde hij.", AnswerType.NUMBER, "Hoeveel toeschouwers?", False),
        ("Er kwamen 4000 toeschouwers.", AnswerType.NUMBER, "Hoeveel toeschouwers?", True),
        ("Hij preekte 28 uur en 45 minuten.", AnswerType.NUMBER, "Hoeveel uur preekte hij?", True),
        ("De prijs wordt vijfjaarlijks toegekend.", AnswerType.NUMBER, "Om de hoeveel jaar?", True),
        # amounts are written as amounts; a championship is not one
        ("Hij was bondscoach tijdens Euro 2000.", AnswerType.MONEY, "", False),
        ("Het kost 3,5 miljoen euro.", AnswerType.MONEY, "", True),
        # a year question needs a year, a day question a day
        ("Dat was voor de WK in Edmonton.", AnswerType.DATE, "In welk jaar?", False),
        ("Dat was in 1983.", AnswerType.DATE, "In welk jaar?", True),
        ("Zij trouwen volgend voorjaar.", AnswerType.DATE, "Op welke datum?", False),
        ("Zij trouwen op 2 februari.", AnswerType.DATE, "Op welke datum?", True),
        # a name: not a place something happens in, not a dateline, not a capitalised word
        ("De ploeg verloor in Kopenhagen.", AnswerType.PERSON, "Wie floot?", False),
        ("NIJMEGEN - De hoogleraar kwam om.", AnswerType.NAME, "Hoe heette hij?", False),
        ("Winnende werper werd Eelco Jansen.", AnswerType.PERSON, "Welke pitcher won?", True),
        ("Hij kreeg de Europese titel.", AnswerType.NAME, "Hoe heet het paard?", False),
        ("De taart heette aardbeiendroom.", AnswerType.NAME, "Hoe heette de taart?", True),
        ("Zo kukelde hij naar de negende plaats.", AnswerType.ORDINAL, "Als hoeveelste?", True),
        # a cause the article says it does not know is no cause
        ("Hij raakte om nog onbekende reden van de weg.", AnswerType.REASON, "", False),
        ("Hij raakte van de weg omdat hij in slaap viel.", AnswerType.REASON, "", True),
        ("De plek is geschikt om te zoeken naar sporen van leven.", AnswerType.REASON, "", True),
        ("Ik stopte om te kijken.", AnswerType.REASON, "Wat was de oorzaak ervan?", False),
        ("Dit was op eigen verzoek tijdens de enquête.", AnswerType.REASON, "", True),
        ("Hij trad af uit protest tegen het besluit.", AnswerType.REASON, "", True),
        ("Hij trad dinsdag af.", AnswerType.REASON, "", False),
        # an age is an age, not any number; a thing's name sits by the thing
        ("Hij fietst twee kilometer om.", AnswerType.AGE, "Hoe oud is hij?", False),
        ("De 52-jarige man uit Eindhoven.", AnswerType.AGE, "Hoe oud is hij?", True),
        ("Een hoogleraar (63) kwam om.", AnswerType.AGE, "Hoe oud was hij?", True),
        ("Toen hij dertig jaar oud was, schilderde hij het.", AnswerType.AGE, "Hoe oud?", True),
        ("Sinds zijn tiende zoekt hij met een detector.", AnswerType.AGE, "Hoe oud?", True),
        ("Het duurde dertig jaar.", AnswerType.AGE, "Hoe oud was hij?", False),
        ("De kerkdienst begon om 10.00 uur.", AnswerType.DATE, "Hoe laat begon het?", True),
        ("Hij werd 's middags ingehuldigd.", AnswerType.DATE, "Hoe laat begon het?", False),
        (
            "Zij heeft een brasserie, zegt Wendy Theunissen.",
            AnswerType.NAME,
            "Hoe heet de brasserie van Wendy Theunissen?",
            False,
        ),
        ("Een blogger die vastzit in Hanoi.", AnswerType.NAME, "Hoe heet de blogger?", False),
        ("Zijn hengst Corland was te machtig.", AnswerType.NAME, "Hoe heet de hengst?", True),
    ],
)
def test_answer_kinds_in_sentences(
    sentence: str, atype: AnswerType, question: str, expected: bool
) -> None:
    assert has_type(sentence, atype, question) is expected


# --- the pipeline ------------------------------------------------------------------------------


def test_pipeline_answers_with_a_cited_source_and_highlight(sample_pipeline: Pipeline) -> None:
    # (The fake embedder cannot tell who gave what; the real model's test is in test_quality.)
    answer = sample_pipeline.ask("Wat gaf Poetin tijdens het bezoek aan Kim?")
    assert not answer.refused and answer.cited == (1,)
    assert "limousine" in answer.answer and answer.answer.endswith("[1]")
    source = answer.sources[0]
    assert source.article_id == "nos-poetin-kim-2024-06.txt" and source.source == "NOS Nieuws"
    assert any("limousine" in sentence for sentence in source.sentences)
    start, end = source.highlights[0]
    assert source.text[start:end] == source.sentences[0]
    assert answer.to_json()["sources"][0]["highlights"][0] == [start, end]
    # one source per article: the other retrieved articles are only "searched"
    assert len({s.article_id for s in answer.sources}) == len(answer.sources)
    assert answer.searched and source.title not in answer.searched


def test_a_refusal_cites_the_nearest_sentence_and_only_its_article(
    sample_pipeline: Pipeline,
) -> None:
    answer = sample_pipeline.ask("Welke prijs won de schaatser in Japan?")
    assert answer.refused and answer.answer.startswith(REFUSAL)
    assert "Het dichtst erbij komt:" in answer.answer and answer.answer.endswith("[1]")
    assert len(answer.sources) == 1 and answer.cited == (1,)
    assert answer.sources[0].sentences[0] in answer.answer
    assert answer.sources[0].title not in answer.searched


def test_follow_up_uses_the_history(sample_pipeline: Pipeline) -> None:
    answer = sample_pipeline.ask("En wat gaf Kim terug?", history=["Wat gaf Poetin aan Kim?"])
    assert "Poetin" in answer.query
    assert "kunst" in answer.answer


def test_a_chain_of_follow_ups_keeps_the_conversations_article(sample_pipeline: Pipeline) -> None:
    from qa.index.retrieval import NO_FILTERS

    history = ["Wat gaf Poetin aan Kim?", "Wie is hij?"]  # "Wie is hij?" alone finds nothing
    assert sample_pipeline.topic_article(
        parse_question("Hoe oud is hij?", history), NO_FILTERS
    ) == ("nos-poetin-kim-2024-06.txt")


def test_only_a_question_that_names_nothing_of_its_own_depends_on_the_history() -> None:
    from qa.answer.followup import depends_on_history, split_carried

    assert depends_on_history("Wanneer is die subsidie toegekend?")
    assert depends_on_history("Hoe oud is hij?")
    assert not depends_on_history("Hoeveel mensen zijn er in Turkije omgekomen?")
    assert split_carried("Wie is hij?", "Wie is hij? (Poetin, Kim)") == (
        "Wie is hij?",
        "Poetin, Kim",
    )
    assert split_carried("Wie is hij?", "Wie is Kim Jong-un?") == ("Wie is Kim Jong-un?", "")


def test_a_question_that_points_back_is_answered_from_that_article() -> None:
    from qa.text import split_sentences

    def hit(article: str, text: str) -> Hit:
        return Hit(article, article, text, 0, tuple(split_sentences(text)), score=1.0)

    spoonbills = hit("lepelaars", "Het onderzoek duurde drie jaar. Het fonds betaalde het.")
    other = hit("jgz", "Het bezoek duurde twee dagen. De subsidie werd op 1 januari toegekend.")
    question = "Wanneer is die subsidie toegekend?"
    assert "1 januari" in _extract(question, [spoonbills, other]).text
    refused = _extract(question, [spoonbills, other], within="lepelaars")
    assert refused.refused


@pytest.mark.parametrize("question", ["", "   ", "?!?", "x" * 5000])
def test_unusable_questions_get_a_dutch_message(sample_pipeline: Pipeline, question: str) -> None:
    with pytest.raises(InvalidQuestionError) as err:
        sample_pipeline.ask(question)
    assert str(err.value)[:1].isupper()


def test_empty_index_says_how_to_fill_it(settings, fake_embeddings, store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IndexEmptyError, match="python -m ingest"):
        Pipeline(settings, fake_embeddings, store).ask("Wat gaf Poetin aan Kim?")


@pytest.mark.parametrize(
    ("question", "noun"),
    [
        ("Hoe heet de bejaarde vrouw uit Weert?", "vrouw"),
        ("Welke kunstenaar gaat het monument maken?", "kunstenaar"),
        ("Welke twee tbs-klinieken willen meedoen?", "tbs-klinieken"),
        ("Welke Vietnamese steden bezocht hij?", "steden"),
        ("Wie was de voorganger van Bellaart?", "voorganger"),
        ("Wat gaf Poetin aan Kim?", None),
    ],
)
def test_the_noun_a_question_asks_a_name_for(question: str, noun: str | None) -> None:
    assert focus_noun(question) == noun


def test_a_name_by_the_asked_noun_answers_the_question() -> None:
    from qa.text import split_sentences

    text = (
        "Minister Van Boxtel maakte bekend welke kunstenaar het monument gaat maken. "
        "Het werd de 71-jarige Surinaamse kunstenaar Erwin de Vries."
    )
    hit = Hit("c1", "a1", text, 0, tuple(split_sentences(text)), score=1.0)
    question = "Welke kunstenaar gaat het monument maken?"
    named = {c.text[:12]: c.features["named"] for c in candidates(parse_question(question), [hit])}
    assert named == {"Minister Van": 0.0, "Het werd de ": 1.0}
    assert "Erwin de Vries" in _extract(question, [hit]).text
    assert named_focus("zijn hengst Corland", "hengst", "Hoe heet de hengst?")
    assert counted_focus("Er waren 12.450 toeschouwers.", "Hoeveel toeschouwers kwamen er?")
    assert counted_focus("Er waren 12.450 toeschouwers.", "Hoeveel publiek kwam er?")
    assert named_focus("Scheidsrechter Lisa Vermeulen floot.", "arbiter", "Wie was de arbiter?")
    assert not counted_focus("Er waren veel toeschouwers.", "Hoeveel toeschouwers kwamen er?")
    blogger = ("een blogger die vastzit in Hanoi", "blogger", "Hoe heet de blogger?")
    assert named_focus(*blogger) and not named_focus(*blogger, places=False)


def test_a_name_that_ends_in_the_asked_noun_does_not_fill_it() -> None:
    country = "Naar welk land reist de president daarna?"
    assert not named_focus("Rusland en Noord-Korea helpen elkaar, zegt Poetin.", "land", country)
    assert named_focus("Na zijn bezoek reist Poetin door naar Vietnam.", "land", country)
    member = "Welk Kamerlid diende de motie in?"
    assert named_focus("De motie van SP-Kamerlid Dennis Koster kreeg steun.", "kamerlid", member)


def test_sharing_the_questions_roles_earns_nothing_only_a_clash_costs() -> None:
    # "... van West-Vlaanderen" in the question: a sentence that repeats it is not better
    # evidence for the answer; one that puts a question's name in another role is worse.
    from qa.text import split_sentences

    text = (
        "Het bezoek duurde twee dagen. De provincieraad van West-Vlaanderen telt 80 zetels. "
        "Het hoogste punt is de Kemmelberg, 156 meter. Kim gaf kunst aan Poetin."
    )
    hit = Hit("c1", "a1", text, 0, tuple(split_sentences(text)), score=1.0)
    question = "Wat is de hoogste top van West-Vlaanderen die Poetin aan Kim toonde?"
    roles = {c.text[:8]: c.features["roles"] for c in candidates(parse_question(question), [hit])}
    assert roles["De provi"] == roles["Het hoog"] == 0.0
    assert roles["Kim gaf "] < 0.0


def test_a_quoted_title_names_a_book_or_a_programme() -> None:
    question = "Voor welke roman kreeg Merel Huisman de prijs?"
    assert expected_type(question) is AnswerType.NAME  # not PERSON: "roman" is no "man"
    won = "Huisman won de prijs voor haar roman 'Het zoutland'."
    assert has_type(won, AnswerType.NAME, question)
    assert not has_type("Huisman won de prijs voor haar roman.", AnswerType.NAME, question)
    tv = "In welk tv-programma was hij eerder te zien?"
    assert named_focus("Hij zat in het televisieprogramma The Voice.", focus_noun(tv) or "", tv)


def test_the_first_question_word_decides_the_kind_of_answer() -> None:
    assert expected_type("Wie legden het werk neer, waardoor reizigers vastzaten?") is (
        AnswerType.PERSON
    )
    assert expected_type("Welke coureur veroorzaakte de crash waardoor het stil lag?") is None
    assert expected_type("Waardoor hadden de vluchten vertraging?") is AnswerType.REASON
    assert expected_type("Welk bedrag betaalt Lemaire?") is AnswerType.MONEY
    # an adjective before the noun; an organisation is asked for like a person
    assert expected_type("Welk Belgisch productiehuis kocht de rechten?") is AnswerType.PERSON
    assert not has_type("Ze verkocht de rechten aan een Belgisch bedrijf.", AnswerType.PERSON)


def test_a_missing_reason_refuses_only_when_a_cause_is_asked_for() -> None:
    assert must_have_type("Wat was de oorzaak van de brand?", AnswerType.REASON)
    assert not must_have_type("Waarom stopte hij?", AnswerType.REASON)  # often said implicitly
    assert must_have_type("Hoeveel kostte het?", AnswerType.MONEY)


def test_terms_every_sentence_of_the_article_shares_count_for_less() -> None:
    from qa.text import split_sentences

    text = (
        "Heracles won zaterdag van NEC. Heracles was de betere ploeg tegen NEC. "
        "Scheidsrechter Vermeulen floot bij Heracles tegen NEC een strafschop."
    )
    hit = Hit("c1", "a1", text, 0, tuple(split_sentences(text)), score=1.0)
    local = {
        c.text[:12]: c.features["local"]
        for c in candidates(parse_question("Welke scheidsrechter floot Heracles tegen NEC?"), [hit])
    }
    assert local["Scheidsrecht"] > 2 * local["Heracles was"]


def test_the_store_reads_a_whole_article_in_order(sample_pipeline: Pipeline) -> None:
    chunks = sample_pipeline.store.article_chunks("nos-poetin-kim-2024-06.txt")
    assert len(chunks) > 1 and {c.article_id for c in chunks} == {"nos-poetin-kim-2024-06.txt"}
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    for chunk in chunks:  # sentence offsets point into the chunk's own text
        assert all(
            chunk.start <= s < e <= chunk.start + len(chunk.text) for s, e in chunk.sentences
        )
    assert sample_pipeline.store.article_chunks("no-such-article") == []


@pytest.mark.parametrize(
    ("question", "holder"),
    [
        ("Hoe oud is rechter Van den Berg, die de zaak behandelde?", "Berg"),
        ("Hoe oud is de Zwolse wethouder Marieke Oosterhof?", "Oosterhof"),
        ("Hoeveel verdient Erik Veenstra als topman?", "Veenstra"),
        ("Hoe oud is de bestuurder van de vrachtwagen?", None),  # no name: any age may do
        ("Hoe oud is hij?", None),
        ("Hoeveel kost de brug?", None),  # a price, not someone's pay
    ],
)
def test_the_person_whose_age_or_pay_is_asked(question: str, holder: str | None) -> None:
    assert property_holder(question) == holder


def test_a_sentence_that_announces_causes_brings_them_along() -> None:
    from qa.text import split_sentences

    text = (
        "Het rapport verscheen woensdag. Volgens de corporatie heeft de lange wachttijd twee "
        "oorzaken. Huurders verhuizen minder. Daarnaast groeit de bevolking. De wethouder is "
        "bezorgd."
    )
    hit = Hit("c1", "a1", text, 0, tuple(split_sentences(text)), score=1.0)
    answer = _extract("Wat zijn de oorzaken van de lange wachttijd?", [hit]).text
    assert "verhuizen" in answer and "bevolking" in answer and "wethouder" not in answer
