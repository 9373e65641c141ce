"""The offline answerer: choose the sentences of the retrieved passages that answer the question.

No LLM. Each candidate sentence is scored on:
1. lexical evidence: the IDF-weighted share of the question's terms it contains (after
   lemmatising and stemming), in the sentence itself and, weaker, in its neighbours;
2. word order and bigrams: "Wat gaf Poetin aan Kim?" prefers "... gegeven aan Kim" over
   "Kim ... gaf ... aan Poetin", which embeddings score the same;
3. dense similarity of question and sentence (the best few are embedded at question time) and of
   question and passage;
4. the answer type the question word asks for (``qa.answer_types``).
The best sentence is returned verbatim, with its predecessor when it opens with a word that points
back ("Hij", "Die", ...) and the result stays short. It refuses when the best evidence is weak,
when names or numbers the question is about do not occur in the passage, or when no sentence
holds the kind of answer asked for.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.answer_types import AnswerType, expected_type, has_type
from qa.text import fold, stop_words, terms, words
from qa.types import Hit

MAX_ANSWER_CHARS = 330
DENSE_RERANK = 8

# Weights and thresholds, tuned on the project's own eval set (eval/questions.jsonl).
W_LEX, W_CONTEXT, W_BIGRAM, W_ORDER, W_DENSE, W_PASSAGE, W_TYPE = (
    1.0,
    0.25,
    0.35,
    0.2,
    1.2,
    0.4,
    0.5,
)
MIN_SCORE = 0.95
MIN_LEX = 0.2

_ANAPHOR = re.compile(
    r"^(hij|zij|ze|die|dat|deze|dit|het|hem|haar|hun|daar|daarna|daarop|daarom|daardoor|toen|"
    r"ook|bovendien|dus|wel|zo|er|dezelfde|diens|wiens|beide|hiermee|daarmee|hierdoor)\b",
    re.I,
)


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    index: int  # position of the sentence within the hit
    start: int
    end: int
    text: str
    score: float = 0.0
    lexical: float = 0.0
    dense: float = 0.0
    typed: bool = True


@dataclass(frozen=True)
class Extraction:
    """The chosen sentences (in reading order, all from ``hit``), or a refusal with its reason."""

    hit: Hit | None
    spans: tuple[tuple[int, int], ...]  # article offsets of the chosen sentences
    text: str
    refused: bool
    reason: str = ""
    score: float = 0.0


SentenceEncoder = Callable[[list[str]], Sequence[Sequence[float]]]
DocFreq = Callable[[Sequence[str]], tuple[dict[str, int], int]]


def extract_answer(
    question: str, hits: Sequence[Hit], *, query_vector: Sequence[float] | None = None,
    encode: SentenceEncoder | None = None, doc_freq: DocFreq | None = None,
) -> Extraction:  # fmt: skip
    if not hits:
        return Extraction(None, (), "", True, "geen passages gevonden")
    # 1. question analysis
    q_terms = list(dict.fromkeys(terms(question)))
    q_all = terms(question, keep_stop_words=True)
    idf = _idf(q_terms, doc_freq)
    q_weight = sum(idf[t] for t in q_terms) or 1.0
    q_bigrams = _bigrams(q_all)
    atype = expected_type(question)
    anchors = _anchors(question)

    # 2. every sentence of every hit, scored lexically
    top_score = max(h.score for h in hits) or 1.0
    top_dense = max(h.dense for h in hits) or 1.0
    cands: list[Candidate] = []
    for hit in hits:
        sentences = hit.sentence_texts()
        sent_terms = [set(terms(t)) for _, _, t in sentences]
        for i, (start, end, text) in enumerate(sentences):
            if len(words(text)) < 3 or text.rstrip().endswith("?"):
                continue
            own = sent_terms[i]
            near = set().union(*(sent_terms[j] for j in (i - 1, i + 1) if 0 <= j < len(sentences)))
            near |= set(terms(hit.title))
            lexical = sum(idf[t] for t in q_terms if t in own) / q_weight
            context = sum(idf[t] for t in q_terms if t not in own and t in near) / q_weight
            s_all = terms(text, keep_stop_words=True)
            bigram = len(q_bigrams & _bigrams(s_all)) / len(q_bigrams) if q_bigrams else 0.0
            order = _order_agreement(q_terms, s_all)
            typed = atype is None or has_type(text, atype, question)
            novelty = 1.0 if own - set(q_terms) else 0.0
            passage = 0.5 * (hit.score / top_score) + 0.5 * (max(hit.dense, 0.0) / top_dense)
            score = (
                W_LEX * lexical + W_CONTEXT * context + W_BIGRAM * bigram + W_ORDER * order
                + W_PASSAGE * passage + W_TYPE * (1.0 if typed else 0.0) + 0.1 * novelty
            )  # fmt: skip
            cands.append(Candidate(hit, i, start, end, text, score, lexical, 0.0, typed))
    if not cands:
        return Extraction(None, (), "", True, "geen bruikbare zinnen")

    # 3. dense similarity for the best few
    cands.sort(key=lambda c: c.score, reverse=True)
    head = cands[:DENSE_RERANK]
    if encode is not None and query_vector is not None:
        vectors = encode([c.text for c in head])
        head = [
            _with_dense(c, sum(a * b for a, b in zip(v, query_vector, strict=False)))
            for c, v in zip(head, vectors, strict=True)
        ]
        head.sort(key=lambda c: c.score, reverse=True)
    best = head[0]

    # 4. refuse when the evidence is weak or of the wrong kind
    if atype is not None and not any(c.typed for c in head[:3]):
        return _refusal(best, f"geen {atype.value} gevonden in de artikelen")
    if atype is not None and not best.typed:
        best = next(c for c in head if c.typed)
    missing = [a for a in anchors if not _anchor_in(a, best.hit)]
    if missing:
        return _refusal(best, "niet gevonden in de artikelen: " + ", ".join(missing))
    if best.lexical < MIN_LEX and best.dense < 0.86 or best.score < MIN_SCORE:
        return _refusal(best, "te weinig bewijs in de artikelen")

    # 5. the answer: the sentence, with its predecessor when it points back and stays short
    spans = [(best.start, best.end)]
    text = best.text
    sentences = best.hit.sentence_texts()
    if _ANAPHOR.match(best.text.lstrip(",' ")) and best.index > 0:
        p_start, p_end, p_text = sentences[best.index - 1]
        if len(p_text) + len(text) + 1 <= MAX_ANSWER_CHARS:
            spans.insert(0, (p_start, p_end))
            text = p_text + " " + text
    return Extraction(best.hit, tuple(spans), text, False, score=best.score)


def _with_dense(c: Candidate, dense: float) -> Candidate:
    return Candidate(
        c.hit, c.index, c.start, c.end, c.text, c.score + W_DENSE * dense, c.lexical, dense, c.typed
    )


def _refusal(best: Candidate, reason: str) -> Extraction:
    return Extraction(best.hit, ((best.start, best.end),), "", True, reason, best.score)


def _idf(q_terms: Sequence[str], doc_freq: DocFreq | None) -> dict[str, float]:
    if doc_freq is None:
        return {t: 1.0 for t in q_terms}
    freqs, n_docs = doc_freq(q_terms)
    n = max(n_docs, 1)
    return {t: math.log(1 + (n - freqs.get(t, 0) + 0.5) / (freqs.get(t, 0) + 0.5)) for t in q_terms}


def _bigrams(seq: Sequence[str]) -> set[tuple[str, str]]:
    stop = {fold(w) for w in stop_words()}
    return {(a, b) for a, b in zip(seq, seq[1:], strict=False) if a not in stop or b not in stop}


def _order_agreement(q_terms: Sequence[str], s_terms: Sequence[str]) -> float:
    """Share of pairs of question terms that appear in the same order in the sentence."""
    first: dict[str, int] = {}
    for pos, t in enumerate(s_terms):
        first.setdefault(t, pos)
    matched = [t for t in q_terms if t in first]
    pairs = [(a, b) for i, a in enumerate(matched) for b in matched[i + 1 :]]
    if not pairs:
        return 0.0
    return sum(1.0 for a, b in pairs if first[a] < first[b]) / len(pairs)


_QUESTION_WORDS = {"wie", "wat", "waar", "wanneer", "waarom", "hoe", "hoeveel", "welk", "welke"}


def _anchors(question: str) -> list[str]:
    """Names and numbers the question is about: they must occur in the answer's passage."""
    out = []
    for i, word in enumerate(words(question)):
        folded = fold(word)
        if folded in _QUESTION_WORDS or folded in stop_words():
            continue
        if any(ch.isdigit() for ch in word) or (word[:1].isupper() and i > 0):
            out.append(word)
    return out


def _anchor_in(anchor: str, hit: Hit) -> bool:
    haystack = fold(hit.title + " " + hit.text)
    folded = fold(anchor)
    if folded in haystack:
        return True
    parts = [p for p in re.split(r"[-'’]", folded) if len(p) >= 4]
    stem = set(terms(anchor))
    return bool(parts and all(p[:5] in haystack for p in parts)) or bool(
        stem and stem <= set(terms(hit.title + " " + hit.text))
    )


__all__ = ["AnswerType", "Extraction", "extract_answer"]
