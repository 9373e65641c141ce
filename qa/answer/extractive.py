"""The offline answer: the sentences of the articles that answer the question, or a refusal.

No LLM. In order:

1. read the best-retrieved articles whole (``READ_ARTICLES``; an answer is often a sentence
   the passage search did not return, next to one it did); a question that points back to the
   conversation's article ("Wanneer is die subsidie toegekend?") reads only that one;
2. the reader (``qa.answer.reader``) scores every candidate sentence: P(it answers); a
   sentence that puts the question's names in other roles is held back (``role_guard``);
3. the reader's refusal model says whether the articles answer at all; below its calibrated
   threshold the answer is a refusal that cites the nearest sentence;
4. the answer is the best sentence verbatim, after the sentence before it when it opens with a
   word that points back ("Hij", "Die", ...), before the sentences it announces ("... heeft twee
   oorzaken."), and with a second sentence of the same article when the reader scores it as
   answering too (a share of the best P, calibrated on held-out training data) and it adds
   words the first does not have, as long as the answer stays short.

What it deliberately does not do: write new text. Every answer is sentences of an article.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qa.answer.candidates import DocFreq
from qa.answer.question import Question
from qa.answer.reader import Reader, Scored, SentenceEncoder, features, whole_article
from qa.text import terms
from qa.types import Hit

MAX_ANSWER_CHARS = 330
READ_ARTICLES = 3  # how many of the best-retrieved articles are read whole
ROLE_CLASH = 0.5  # P of a sentence that puts a question's name in another role is halved

_ANAPHOR = re.compile(
    r"^(hij|zij|ze|die|dat|deze|dit|het|hem|haar|hun|daar|daarna|daarop|daarom|daardoor|toen|"
    r"ook|bovendien|dus|wel|zo|er|dezelfde|diens|wiens|beide|hiermee|daarmee|hierdoor)\b",
    re.I,
)
# A sentence that announces what the next ones say: "... heeft twee oorzaken.", "... als volgt:"
_ANNOUNCES = re.compile(
    r":\s*$|\b(twee|drie|vier|vijf|enkele|meerdere|verschillende)\s+(oorzaken|redenen|"
    r"verklaringen|gevolgen|maatregelen|problemen|bezwaren|punten|zaken|dingen)\s*[.:]?\s*$",
    re.I,
)
_COUNTS = {"twee": 2, "drie": 3, "vier": 4, "vijf": 5}

ArticleReader = Callable[[str], Sequence[Hit]]  # article id -> all its chunks, in order


@dataclass(frozen=True)
class Pick:
    """One sentence of the answer: where it is (article offsets) and the article it is in."""

    hit: Hit
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Extraction:
    """The chosen sentences, best evidence first, or a refusal (``picks`` then holds the
    nearest sentence, which the refusal cites). ``p`` is the reader's P(answerable)."""

    picks: tuple[Pick, ...]
    refused: bool
    p: float = 0.0

    @property
    def hit(self) -> Hit | None:
        return self.picks[0].hit if self.picks else None

    @property
    def text(self) -> str:
        return "" if self.refused else " ".join(p.text for p in self.picks)


def extract_answer(
    question: Question,
    hits: Sequence[Hit],
    *,
    reader: Reader,
    query_vector: Any | None = None,
    encode: SentenceEncoder | None = None,
    doc_freq: DocFreq | None = None,
    read_article: ArticleReader | None = None,
    within: str | None = None,
) -> Extraction:
    """``within``: the article the conversation is about, when the question points back to it;
    only that article is read."""
    # 1. the articles, read whole
    articles = read_articles(hits, read_article, within=within)
    # 2. every sentence scored by the reader
    scored = role_guard(
        reader.score(
            features(
                question, articles, encode=encode, query_vector=query_vector, doc_freq=doc_freq
            )
        )
    )
    if not scored:
        return Extraction((), True)
    best = scored[0]
    # 3. refuse when the reader says the articles do not answer
    p = reader.answerable(scored)
    if p < reader.thresholds.answer:
        return Extraction((_pick(best),), True, p)
    # 4. the answer's sentences
    picks = answer_sentences(question, scored, second=reader.thresholds.second)
    return Extraction(tuple(picks), False, p)


def role_guard(scored: Sequence[Scored]) -> list[Scored]:
    """Halve P for a sentence that puts a name of the question in another role: for "Wat gaf
    Poetin aan Kim?", "Kim gaf kunst aan Poetin" (``roles`` < 0). The one hand rule left on top
    of the reader: the training data holds too few such sentences (403 of about 100,000
    candidates) for the model to learn it; on held-out domains it changes top-1 by -0.04 points
    (README, ablation), and it decides who gave what to whom."""
    guarded = [replace(s, p=s.p * ROLE_CLASH) if s.features["roles"] < 0 else s for s in scored]
    return sorted(guarded, key=lambda s: s.p, reverse=True)


def read_articles(
    hits: Sequence[Hit], read_article: ArticleReader | None, *, within: str | None = None
) -> list[Hit]:
    """The best-retrieved articles (or ``within``), each as one whole-article hit."""
    order = [within] if within else list(dict.fromkeys(h.article_id for h in hits))
    out = []
    for article_id in order[:READ_ARTICLES]:
        own = [h for h in hits if h.article_id == article_id]
        chunks = list(read_article(article_id)) if read_article is not None else []
        chunks = chunks or own
        if not chunks:
            continue
        if own:  # keep how well the article was retrieved
            best = max(own, key=lambda h: h.score)
            chunks = [c if c.chunk_id != best.chunk_id else best for c in chunks]
        out.append(whole_article(chunks))
    return out


def answer_sentences(question: Question, scored: Sequence[Scored], *, second: float) -> list[Pick]:
    """The answer's sentences, from the candidates best first: the best, what it points back to
    or announces, and a runner-up of the same article whose P is at least ``second`` times the
    best one's (the reader scores it as answering too) and that adds something."""
    best = scored[0]
    chosen = [_pick(best)]
    sentences = best.hit.sentence_texts()
    index = best.cand.index
    # the sentence before, when the best one points back to it ("Hij ...")
    if _ANAPHOR.match(best.cand.text.lstrip(",'\"„ ")) and index > 0:
        chosen.insert(0, Pick(best.hit, *sentences[index - 1]))
    # the sentences it announces ("De wachttijd heeft twee oorzaken.")
    if announced := _ANNOUNCES.search(best.cand.text):
        count = _COUNTS.get((announced.group(1) or "").lower(), 1)
        for start, end, text in sentences[index + 1 :][:count]:
            following = Pick(best.hit, start, end, text)
            if _length([*chosen, following]) > MAX_ANSWER_CHARS:
                break
            chosen.append(following)
    # a second sentence the reader scores as answering too, when it adds something
    have = set(terms(" ".join(p.text for p in chosen))) | set(question.terms)
    for runner_up in scored[1:4]:
        if runner_up.p < second * best.p:
            break
        extra = _pick(runner_up)
        if (
            runner_up.hit.article_id == best.hit.article_id
            and runner_up.features["roles"] >= 0  # not "Kim gaf ... aan Poetin" as well
            and all(extra.start != p.start for p in chosen)
            and len(set(terms(extra.text)) - have) >= 2
            and _length([*chosen, extra]) <= MAX_ANSWER_CHARS
        ):
            before = 0 <= chosen[0].start - extra.end <= 2
            chosen = [extra, *chosen] if before else [*chosen, extra]
            break
    if _length(chosen) > MAX_ANSWER_CHARS:
        chosen = [_pick(best)]
    return chosen


def _pick(s: Scored) -> Pick:
    return Pick(s.hit, s.cand.start, s.cand.end, s.cand.text)


def _length(picks: Sequence[Pick]) -> int:
    return len(" ".join(p.text for p in picks))
