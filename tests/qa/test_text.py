"""Dutch text handling: sentences with offsets, and search terms that agree on both sides."""

from __future__ import annotations

import pytest

from qa.text import analyze, fold, split_sentences, terms


def test_sentences_keep_exact_offsets_and_split_tricky_dutch() -> None:
    text = (
        "Mr. J.W. Weck wordt de nieuwe directeur. Hij begint op 17 sept. in Den Haag.\n\n"
        "Van der Schans:,, Ik wist het. '' Daarna ging hij naar huis."
    )
    spans = split_sentences(text)
    sentences = [text[s:e] for s, e in spans]
    assert sentences[0] == "Mr. J.W. Weck wordt de nieuwe directeur."
    assert "Hij begint op 17 sept. in Den Haag." in sentences
    assert sentences[-1] == "Daarna ging hij naar huis."
    assert all(text[s:e] == t for (s, e), t in zip(spans, sentences, strict=True))


def test_headline_lines_are_their_own_sentences() -> None:
    text = "Groots ontvangst\nPoetin werd groots ontvangen."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Groots ontvangst",
        "Poetin werd groots ontvangen.",
    ]


def test_verb_forms_meet_in_one_term() -> None:
    assert set(terms("Wat gaf Poetin?")) & set(terms("Poetin heeft gegeven")) >= {"geef"}


def test_diacritics_quotes_and_compounds_are_handled_on_both_sides() -> None:
    assert fold("Oekraïne") == "oekraine"
    assert analyze("Oekraïne") == analyze("Oekraine")
    assert analyze(",,Noord-Korea''") == ["noordkorea", "noord", "korea"]


@pytest.mark.parametrize("text", ["", "   ", "?!", "مرحبا بالعالم 🎉", "ЖЖЖ"])
def test_unusual_input_never_raises(text: str) -> None:
    split_sentences(text)
    analyze(text)


@pytest.mark.parametrize("quote", ['"', "'", "„", ",,", "“"])
def test_an_opening_quote_starts_the_next_sentence(quote: str) -> None:
    closing = {"„": "”", ",,": "''", "“": "”"}.get(quote, quote)
    text = f"Hij is opgelucht. {quote}Dit is goed nieuws,{closing} zegt hij. Daarna ging hij."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Hij is opgelucht.",
        f"{quote}Dit is goed nieuws,{closing} zegt hij.",
        "Daarna ging hij.",
    ]
