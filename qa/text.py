"""Dutch text handling shared by ingest, lexical search and the offline answerer.

Two jobs, done the same way everywhere so that documents and questions always agree:

1. ``split_sentences`` cuts an article into sentences with exact character offsets (spaCy's
   rule-based Dutch tokenizer and sentencizer; paragraphs, i.e. blank lines and headline lines,
   always end a sentence).
2. ``analyze`` turns text into search terms: newspaper quotes (,,...'') and diacritics folded,
   lower-cased, hyphenated compounds kept whole *and* split, words lemmatised (simplemma, so
   "gaf" and "gegeven" both become "geven") and then stemmed (Snowball Dutch).

It deliberately does no named-entity recognition: no such Dutch model installs offline.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# spaCy's Dutch list is aggressive: it treats verbs such as "geven" as stop words. Those carry the
# meaning of many questions ("Wat gaf Poetin aan Kim?"), so they are kept as content words.
_KEEP = {
    "geven", "gegeven", "eerste", "eersten", "afgelopen", "lang", "later", "vroeg", "beter",
    "betere", "geleden", "klaar", "zei", "weg", "tegen", "doen", "doet", "beide", "beiden",
    "mogelijk", "ongeveer", "opnieuw", "nooit", "eigen",
}  # fmt: skip
_EXTRA_STOP = {"hoeveel", "welk", "welke", "waarheen", "waarvandaan", "hoelang", "ie", "-ie"}

# Dutch month names, in calendar order (dates in readers, date answers in answer_types).
MONTHS = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
]

_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*", re.UNICODE)


@lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    from spacy.lang.nl.stop_words import STOP_WORDS

    return frozenset({fold(w) for w in STOP_WORDS if w not in _KEEP} | _EXTRA_STOP)


def fold(text: str) -> str:
    """Lower-case and strip diacritics: "Oekraïne" -> "oekraine", "dé" -> "de"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of ``text`` in order, as written (hyphenated compounds stay one word)."""
    return _WORD.findall(text.replace(",,", " ").replace("''", " "))


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("dutch")


@lru_cache(maxsize=200_000)
def normalize_word(word: str) -> str:
    """One word to its search term: lemma (simplemma), then folded and stemmed."""
    import simplemma

    lemma = simplemma.lemmatize(word.lower(), lang="nl")
    return str(_stemmer().stemWord(fold(lemma)))


def terms(text: str, *, keep_stop_words: bool = False) -> list[str]:
    """Search terms of ``text`` in order. Compounds give the whole and the parts:
    "Noord-Korea" -> ["noordkorea", "noord", "korea"]."""
    return list(_terms(text, keep_stop_words))


@lru_cache(maxsize=100_000)
def _terms(text: str, keep_stop_words: bool) -> tuple[str, ...]:
    """``terms``, remembered: the answerer reads the same sentences for many questions."""
    stop = stop_words()
    out: list[str] = []
    for word in words(text):
        parts = re.split(r"[-'’]", word)
        variants = [word.replace("-", "").replace("'", "").replace("’", "")]
        if len(parts) > 1:
            variants += [p for p in parts if p]
        for variant in variants:
            is_stop = fold(variant) in stop or len(variant) < 2
            if not keep_stop_words and is_stop and not variant.isdigit():
                continue
            out.append(normalize_word(variant))
    return tuple(out)


def analyze(text: str) -> list[str]:
    """Content terms for lexical search (stop words removed)."""
    return terms(text)


@lru_cache(maxsize=1)
def _nlp() -> Any:
    import spacy

    nlp = spacy.blank("nl")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 5_000_000
    return nlp


_PARAGRAPH = re.compile(r"\n\s*\n|\n(?=[^\n]{0,80}\n)")


def paragraphs(text: str) -> list[tuple[int, int]]:
    """Character spans of the non-empty paragraphs (separated by blank lines or single lines)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for match in re.finditer(r"\n\s*\n", text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    out = []
    for start, end in spans:
        # A single newline inside a paragraph also separates lines such as headlines.
        line_start = start
        for line in re.finditer(r"\n", text[start:end]):
            out.append((line_start, start + line.start()))
            line_start = start + line.end()
        out.append((line_start, end))
    return [_strip_span(text, s, e) for s, e in out if text[s:e].strip()]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in ``text``; every character of a sentence is kept verbatim."""
    nlp = _nlp()
    spans: list[tuple[int, int]] = []
    paras = paragraphs(text)
    for (p_start, _p_end), doc in zip(paras, nlp.pipe(text[s:e] for s, e in paras), strict=True):
        for sent in doc.sents:
            s, e = _strip_span(text, p_start + sent.start_char, p_start + sent.end_char)
            if e > s:
                spans.append((s, e))
    return _merge_fragments(text, spans)


# A quote that opens: after white space, at the very end of a span.
_OPENING_QUOTE = re.compile(r"\s(?:,,|[„\"'“‘«])$")


def _merge_fragments(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Glue stray quotes, lone punctuation and text after an abbreviation to the sentence before."""
    moved: list[tuple[int, int]] = []
    for s, e in spans:
        # An opening quote ("..., ,,..., „..., '...) that the sentencizer left at the end of a
        # sentence, after a space, opens the next one.
        if moved:
            ps, pe = moved[-1]
            quote = _OPENING_QUOTE.search(text, ps, pe)
            if quote and text[quote.end() : s].strip() == "":
                moved[-1] = _strip_span(text, ps, quote.start())
                s = quote.start() + len(quote.group(0)) - len(quote.group(0).lstrip())
        moved.append((s, e))
    out: list[tuple[int, int]] = []
    for s, e in moved:
        piece = text[s:e]
        same_paragraph = bool(out) and "\n" not in text[out[-1][1] : s]
        # A "sentence" that starts in lower case followed an abbreviation ("17 sept. in ...").
        if same_paragraph and (not any(c.isalnum() for c in piece) or piece[:1].islower()):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out
