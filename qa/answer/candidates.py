"""Candidates: every sentence of the articles being read, with its lexical features.

For each sentence (at least three words, not itself a question):
1. ``lexical``: the IDF-weighted share of the question's terms (lemmatised, stemmed) in the
   sentence; ``local``: the same with terms weighted by how few sentences of the article share
   them; ``context``: the share found only in its neighbours or the article title;
2. ``bigram``, ``order`` and ``roles``: shared word pairs, word order and who-does-what-to-whom
   ("Wat gaf Poetin aan Kim?" against "Kim gaf ... aan Poetin"; embeddings score those the same);
3. ``typed``: whether it holds the kind of answer the question word asks for
   (``qa.answer.answer_types``); ``named``: whether it fills in the asked noun ("kunstenaar
   Erwin de Vries", "12.450 toeschouwers"); ``novelty``: whether it says more than the question.

These are features, not decisions: ``qa.answer.reader`` weighs them as it learned from data.
Words carried over from earlier questions of a conversation count at ``CONTEXT_WEIGHT``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from qa.answer.answer_types import counted_focus, has_type, named_focus
from qa.answer.question import Question
from qa.text import fold, stop_words, terms, words
from qa.types import Hit

# How much a word carried over from an earlier question counts, against the question's own.
CONTEXT_WEIGHT = 0.5

DocFreq = Callable[[Sequence[str]], tuple[dict[str, int], int]]


@dataclass(frozen=True)
class Candidate:
    """One sentence of an article being read, with its lexical features."""

    hit: Hit
    index: int  # position of the sentence within the hit
    start: int
    end: int
    text: str
    features: dict[str, float]


def candidates(
    question: Question, hits: Sequence[Hit], *, doc_freq: DocFreq | None = None
) -> list[Candidate]:
    """Every usable sentence of ``hits`` with its lexical features. The words carried over
    from earlier questions (``question.context``) count at ``CONTEXT_WEIGHT``."""
    if not hits:
        return []
    context = question.context
    asked = list(question.terms)
    full = question.anchored  # what is known or asked
    q_terms = list(dict.fromkeys(asked + terms(context)))
    q_set = set(q_terms)
    q_bigrams = _bigrams(terms(full, keep_stop_words=True))
    idf = {t: w if t in asked else w * CONTEXT_WEIGHT for t, w in _idf(q_terms, doc_freq).items()}
    q_weight = sum(idf[t] for t in q_terms) or 1.0
    atype = question.atype
    q_roles = _name_roles(full)
    focus = question.focus
    q_names = {fold(w) for i, w in enumerate(words(full)) if i > 0 and w[:1].isupper()}
    out: list[Candidate] = []
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        sentences = hit.sentence_texts()
        sent_terms = [set(terms(t)) for _, _, t in sentences]
        title_terms = set(terms(hit.title))
        for i, (start, end, text) in enumerate(sentences):
            if len(words(text)) < 3 or text.rstrip().endswith("?"):
                continue
            if (hit.article_id, start) in seen:  # the same sentence in an overlapping chunk
                continue
            seen.add((hit.article_id, start))
            own = sent_terms[i]
            near = title_terms.union(
                *(sent_terms[j] for j in (i - 1, i + 1) if 0 <= j < len(sentences))
            )
            s_all = terms(text, keep_stop_words=True)
            features = {
                "lexical": sum(idf[t] for t in q_terms if t in own) / q_weight,
                "context": sum(idf[t] for t in q_terms if t not in own and t in near) / q_weight,
                "bigram": len(q_bigrams & _bigrams(s_all)) / len(q_bigrams) if q_bigrams else 0.0,
                "order": _order_agreement(q_terms, s_all),
                "typed": 1.0 if atype is None or has_type(text, atype, full) else 0.0,
                "novelty": len(own - q_set) / len(own) if own else 0.0,
                "first": 1.0 if start == 0 else 0.0,
                "roles": _roles(q_names, q_roles, _name_roles(text)),
                "named": 1.0
                if focus and named_focus(text, focus, full) or counted_focus(text, full)
                else 0.0,
                "lexical_raw": sum(1.0 for t in q_terms if t in own) / max(len(q_terms), 1),
            }
            out.append(Candidate(hit, i, start, end, text, features))
    return _add_local(out, q_terms, idf)


def _add_local(
    cands: list[Candidate], q_terms: Sequence[str], idf: dict[str, float]
) -> list[Candidate]:
    """``local``: the question terms a sentence shares, weighted by how few sentences of its
    own article share them. In an article about Heracles-NEC every sentence names Heracles;
    the sentence that also says "scheidsrechter" is the one that answers about the referee."""
    by_article: dict[str, list[set[str]]] = {}
    own_terms = [set(terms(c.text)) & set(q_terms) for c in cands]
    for c, own in zip(cands, own_terms, strict=True):
        by_article.setdefault(c.hit.article_id, []).append(own)
    out = []
    for c, own in zip(cands, own_terms, strict=True):
        sentences = by_article[c.hit.article_id]
        n = len(sentences)
        weight = {
            t: idf[t] * math.log(1 + (n + 0.5) / (sum(t in s for s in sentences) + 0.5))
            for t in q_terms
        }
        total = sum(weight.values()) or 1.0
        local = sum(weight[t] for t in q_terms if t in own) / total  # in order: reproducible
        out.append(replace(c, features={**c.features, "local": local}))
    return out


def _idf(q_terms: Sequence[str], doc_freq: DocFreq | None) -> dict[str, float]:
    if doc_freq is None:
        return {t: 1.0 for t in q_terms}
    freqs, n_docs = doc_freq(q_terms)
    n = max(n_docs, 1)
    return {t: math.log(1 + (n - freqs.get(t, 0) + 0.5) / (freqs.get(t, 0) + 0.5)) for t in q_terms}


def _bigrams(seq: Sequence[str]) -> set[tuple[str, str]]:
    stop = stop_words()
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


_ROLE_PREPOSITIONS = {
    "aan", "voor", "van", "met", "tegen", "door", "naar", "bij", "over", "uit", "zonder", "namens",
}  # fmt: skip


def _name_roles(text: str) -> set[tuple[str, str]]:
    """(preposition, name) pairs such as ("aan", "kim"): who receives, who acts with, ..."""
    tokens = words(text)
    pairs = set()
    for prep, word in zip(tokens, tokens[1:], strict=False):
        if prep.lower() in _ROLE_PREPOSITIONS and word[:1].isupper():
            pairs.add((prep.lower(), fold(word)))
    return pairs


def _roles(
    q_names: set[str], q_roles: set[tuple[str, str]], s_roles: set[tuple[str, str]]
) -> float:
    """-1 for each name of the question that the sentence puts in another role, offset by the
    roles it shares with the question, but never above 0: "Wat gaf Poetin aan Kim?" against
    "Kim gaf kunst aan Poetin" is -1, against "... gegeven aan Kim" 0. Sharing a role is no
    bonus: a sentence that repeats "van West-Vlaanderen" is not the better answer for it."""
    if not q_roles:
        return 0.0
    agree = len(q_roles & s_roles)
    clash = sum(1 for pair in s_roles - q_roles if pair[1] in q_names)
    return float(min(0, agree - clash))
