"""Check the ``[n]`` citations of a generated answer against the sources it was given.

``check_citations(answer, sources)`` does four things, in order:

1. finds the markers: ``[1]``, ``[1][2]``, ``[1, 2]``, ``[1-3]`` and ``[bron 1]``;
2. removes every number that names no source ("Bron [9] bestaat niet; verwijzing verwijderd.")
   and writes the remaining markers in one form, ``[1]`` or ``[1, 2]``;
3. scores each cited sentence against its sources: the share of the sentence's content terms
   (``qa.text.terms``: lemmatised, stemmed, stop words dropped) that occur in the best-matching
   window of one or two consecutive sentences of the source. The score is a plain containment
   in [0, 1], not IDF-weighted. A sentence is *unsupported* when the terms found in all its cited
   sources together cover less than ``SUPPORT_THRESHOLD`` of its terms;
4. warns about sentences that make a claim (more than ``CLAIM_WORDS`` content words) without
   any marker. The refusal "Dat staat niet in de artikelen." needs no source.

It is lexical evidence, not entailment: it catches citations of the wrong source and sentences
made up from nothing, but it cannot tell "Poetin gaf Kim een auto" from "Kim gaf Poetin een auto".
It never calls a model and never changes the answer's words, only its markers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from qa.text import fold, split_sentences, stop_words, terms, words

REFUSAL = "Dat staat niet in de artikelen."

# Below this share of its content terms found in the cited sources a sentence is unsupported.
# Paraphrases of a source sentence score 0.5-1.0 in practice; a sentence about something the
# source does not mention scores near 0. 0.35 leaves room for the model's own linking words.
SUPPORT_THRESHOLD = 0.35
# A sentence with more content words than this makes a claim and should cite a source.
CLAIM_WORDS = 4
# How many consecutive source sentences one answer sentence may draw on (e.g. "Hij ..." + subject).
WINDOW = 2
_QUOTE_CHARS = 120

# "[1]", "[1, 2]", "[1;2]", "[1-3]", "[bron 2]", "[Bronnen 1 en 2]"; at most three digits, so that a
# year in brackets ("[2019]") is not mistaken for a citation.
_NUM = r"\d{1,3}"
_SEP = r"\s*(?:,|;|-|–|\ben\b)\s*"
_MARKER = re.compile(
    rf"\[\s*(?:bron(?:nen)?\s*)?({_NUM}(?:{_SEP}{_NUM})*)\s*\]",
    re.IGNORECASE,
)
# Removing a marker also removes the blanks before it: "auto [9]." becomes "auto.".
_MARKER_WITH_SPACE = re.compile(r"[ \t]*" + _MARKER.pattern, re.IGNORECASE)


@dataclass(frozen=True)
class CitationCheck:
    text: str  # the answer with invalid markers removed and the rest written as [n] / [n, m]
    cited: tuple[int, ...]  # valid source numbers, in order of first appearance
    warnings: tuple[str, ...]  # Dutch, for the user
    unsupported: tuple[str, ...]  # sentences whose cited sources don't support them
    support: tuple[tuple[str, int, float], ...]  # (sentence, n, score) per cited source

    @property
    def ok(self) -> bool:
        return not self.warnings


def check_citations(answer: str, sources: Mapping[int, str]) -> CitationCheck:
    """Check ``answer`` against ``sources`` (source number -> passage text)."""
    # 1-2. keep the markers that name a source, report and drop the others
    text, missing = _clean_markers(answer, set(sources))
    warnings = [f"Bron [{n}] bestaat niet; verwijzing verwijderd." for n in missing]
    cited = tuple(dict.fromkeys(n for m in _MARKER.finditer(text) for n in _numbers(m.group(1))))

    # 3-4. sentence by sentence: support for cited ones, a warning for uncited claims
    unsupported: list[str] = []
    support: list[tuple[str, int, float]] = []
    source_windows: dict[int, list[set[str]]] = {}
    for sentence, refs in _sentences_with_refs(text):
        if _is_refusal(sentence):
            continue
        if not refs:
            if _content_words(sentence) > CLAIM_WORDS:
                warnings.append(f"Zin zonder bronvermelding: {_quote(sentence)}")
            continue
        claim = set(terms(sentence))
        if not claim:  # "Zie [1]." claims nothing
            continue
        covered: set[str] = set()
        for n in refs:
            if n not in source_windows:
                source_windows[n] = _windows(sources[n])
            score, found = _best_window(claim, source_windows[n])
            support.append((sentence, n, round(score, 3)))
            covered |= found
        if len(covered) / len(claim) < SUPPORT_THRESHOLD:
            unsupported.append(sentence)
            label = "bron" if len(refs) == 1 else "bronnen"
            marks = "".join(f"[{n}]" for n in refs)
            warnings.append(f"Niet onderbouwd door {label} {marks}: {_quote(sentence)}")
    return CitationCheck(
        text=text,
        cited=cited,
        warnings=tuple(warnings),
        unsupported=tuple(unsupported),
        support=tuple(support),
    )


def _numbers(group: str) -> list[int]:
    """ "1, 2" -> [1, 2]; "1-3" -> [1, 2, 3] (short ranges only); "1 en 2" -> [1, 2]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|;|\ben\b)\s*", group, flags=re.IGNORECASE):
        bounds = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x]
        if len(bounds) == 2 and 0 <= bounds[1] - bounds[0] <= 20:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def _clean_markers(answer: str, valid: set[int]) -> tuple[str, list[int]]:
    missing: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        numbers = list(dict.fromkeys(_numbers(match.group(1))))
        kept = [n for n in numbers if n in valid]
        for n in numbers:
            if n not in valid and n not in missing:
                missing.append(n)
        if not kept:
            return ""
        lead = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip(" \t"))]
        return lead + "[" + ", ".join(str(n) for n in kept) + "]"

    text = _MARKER_WITH_SPACE.sub(rewrite, answer)
    return text.strip(), missing


def _sentences_with_refs(text: str) -> list[tuple[str, list[int]]]:
    """The answer's sentences without markers, each with the source numbers that cite it.

    Sentences are split with the markers taken out: models put them before or after the full
    stop ("auto [1]." / "auto. [1]"), and both belong to the sentence they follow.
    """
    plain_parts: list[str] = []
    marks: list[tuple[int, list[int]]] = []  # (offset in the plain text, numbers)
    pos = 0
    length = 0
    for m in _MARKER_WITH_SPACE.finditer(text):
        plain_parts.append(text[pos : m.start()])
        length += m.start() - pos
        marks.append((length, _numbers(m.group(1))))
        pos = m.end()
    plain_parts.append(text[pos:])
    plain = "".join(plain_parts)

    spans = split_sentences(plain)
    refs: list[list[int]] = [[] for _ in spans]
    for offset, numbers in marks:
        # the last sentence starting before the marker; one before all text goes to the first
        index = max((i for i, (s, _e) in enumerate(spans) if s < offset), default=0)
        if spans:
            refs[index].extend(n for n in numbers if n not in refs[index])
    return [(_tidy(plain[s:e]), r) for (s, e), r in zip(spans, refs, strict=True)]


def _tidy(sentence: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(sentence.split()))


def _windows(source: str) -> list[set[str]]:
    """Term sets of each run of up to ``WINDOW`` consecutive sentences of a source."""
    sentences = [set(terms(source[s:e])) for s, e in split_sentences(source)]
    if not sentences:
        return [set()]
    windows = []
    for i in range(len(sentences)):
        window: set[str] = set()
        for sentence in sentences[i : i + WINDOW]:
            window |= sentence
        windows.append(window)
    return windows


def _best_window(claim: set[str], windows: list[set[str]]) -> tuple[float, set[str]]:
    best: set[str] = set()
    for window in windows:
        found = claim & window
        if len(found) > len(best):
            best = found
    return len(best) / len(claim), best


def _content_words(sentence: str) -> int:
    stop = stop_words()
    return sum(1 for w in words(sentence) if fold(w) not in stop)


def _is_refusal(sentence: str) -> bool:
    def norm(s: str) -> str:
        return fold(s).strip().rstrip(".!").strip()

    return norm(sentence) == norm(REFUSAL)


def _quote(sentence: str) -> str:
    if len(sentence) <= _QUOTE_CHARS:
        return sentence
    return sentence[: _QUOTE_CHARS - 1].rstrip() + "…"
