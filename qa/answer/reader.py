"""The reader: how likely a sentence answers a question, and whether any sentence does.

Learned from data (``data/reader/``, trained by ``qa.answer.training``), not written as rules.
For a question and the articles retrieval found, read whole:

1. every sentence is a candidate with cheap features (``features``): how many of the
   question's terms it holds (IDF-weighted, also in its neighbours and the title), word pairs
   and order, who-does-what-to-whom, whether it holds the kind of answer asked for, whether
   its article names the question's names and numbers, where it stands in the article;
2. the best ``DENSE_TOP`` by a plain lexical score get an e5 sentence embedding: their cosine
   with the question, its rank and its gap to the best are added;
3. the ranker (a LightGBM model) gives each of those candidates P(this sentence answers the
   question);
4. the refusal model (a second LightGBM model) reads the best candidates' scores and what the
   question asks for, and gives P(the articles answer the question at all). Below the
   calibrated threshold the answer is a refusal.

Thresholds were fit on held-out domains of the training data (never on an eval set); they are
stored with the weights in ``qa/answer/weights/`` and its ``manifest.json``.

What this module deliberately does not do: choose which sentences form the answer (that is
``qa.answer.extractive``) or train anything (``qa.answer.training``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.anchors import mentions, missing_counted
from qa.answer.answer_types import AnswerType, must_have_type
from qa.answer.candidates import Candidate, DocFreq, candidates
from qa.answer.question import Question
from qa.text import terms, words
from qa.types import Hit

WEIGHTS_DIR = Path(__file__).parent / "weights"
DENSE_TOP = 16  # how many candidates get a sentence embedding at question time

SentenceEncoder = Callable[[list[str]], Any]  # texts -> normalised vectors (rows)

_ATYPES = {t: i for i, t in enumerate(AnswerType, start=1)}
_QWORDS = ["wie", "wat", "waar", "wanneer", "waarom", "hoe", "hoeveel", "welk", "welke"]

# The features, by family: the ablation in the README drops one family at a time.
FAMILIES: dict[str, tuple[str, ...]] = {
    "base": (
        "dense", "dense_gap", "dense_rank", "art_dense_max", "art_dense_rank", "lexical",
        "lexical_raw", "lexical_gap", "lexical_rank", "novelty", "position", "first",
        "n_words", "has_number", "q_terms", "q_word", "english", "follow_up",
        "art_lexical_max", "window_cov", "art_cov", "title_cov", "dense_title",
        "art_dense_mean", "prev_dense", "next_dense", "prev_lexical", "next_lexical",
    ),
    "local_context": ("local", "context"),
    "word_order_roles": ("bigram", "order", "roles"),
    "answer_types": ("atype", "typed", "named", "must_type", "holder_near"),
    "anchors": ("n_anchors", "art_missing", "art_missing_share", "sent_anchor_share",
                "counted_missing"),
}  # fmt: skip
FEATURES: tuple[str, ...] = tuple(f for family in FAMILIES.values() for f in family)


@dataclass(frozen=True)
class Scored:
    """A candidate sentence with its reader features and P(it answers the question)."""

    cand: Candidate
    features: dict[str, float]
    p: float = 0.0

    @property
    def hit(self) -> Hit:
        return self.cand.hit


def whole_article(chunks: Sequence[Hit]) -> Hit:
    """One hit for a whole article from its chunks: the text from the first chunk's start, and
    every sentence once (offsets stay article offsets)."""
    from dataclasses import replace

    from qa.answer.sources import article_text

    text, base = article_text(chunks)
    spans = sorted({span for c in chunks for span in c.sentences})
    first = min(chunks, key=lambda c: c.start)
    best = max(chunks, key=lambda c: (c.score, c.dense))
    return replace(
        first, chunk_id=f"{first.article_id}#all", text=text, start=base, sentences=tuple(spans),
        score=best.score, dense=best.dense,
    )  # fmt: skip


def features(
    question: Question,
    articles: Sequence[Hit],
    *,
    encode: SentenceEncoder | None,
    query_vector: Any | None,
    doc_freq: DocFreq | None = None,
) -> list[Scored]:
    """The candidates of ``articles`` (whole-article hits) with their features, the best
    ``DENSE_TOP`` by lexical score only (the reader scores those)."""
    # 1. every sentence with the cheap, lexical features
    cands = candidates(question, articles, doc_freq=doc_freq)
    if not cands:
        return []
    cands.sort(key=_lexical_score, reverse=True)
    head = cands[:DENSE_TOP]
    # 2. dense similarity for the best few
    titles = list(dict.fromkeys(a.title for a in articles if a.title))
    if encode is not None and query_vector is not None:
        vectors = np.asarray(encode([c.text for c in head] + titles), dtype=np.float32)
        similarity = vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        dense, title_dense = (
            similarity[: len(head)],
            dict(zip(titles, similarity[len(head) :], strict=True)),
        )
    else:
        dense, title_dense = np.zeros(len(head), dtype=np.float32), {}
    # 3. the reader's features: per sentence, relative to the others, per article
    texts = {a.article_id: a.text for a in articles}
    art_missing = {
        aid: _missing(question, f"{a.title} {a.text}")
        for aid, a in {a.article_id: a for a in articles}.items()
    }
    art_counted = {aid: missing_counted(question.own, t) is not None for aid, t in texts.items()}
    n_sentences = {a.article_id: max(len(a.sentences), 1) for a in articles}
    lexical = np.array([c.features["lexical"] for c in head])
    dense_rank = np.empty(len(head))
    dense_rank[np.argsort(-dense, kind="stable")] = np.arange(len(head))
    lexical_rank = np.arange(len(head))  # head is sorted by the lexical score
    art_dense: dict[str, float] = {}
    art_lexical: dict[str, float] = {}
    for c, d in zip(head, dense, strict=True):
        aid = c.hit.article_id
        art_dense[aid] = max(art_dense.get(aid, -1.0), float(d))
        art_lexical[aid] = max(art_lexical.get(aid, 0.0), c.features["lexical"])
    art_order = sorted(art_dense, key=lambda a: -art_dense[a])
    art_dense_mean = {
        aid: float(
            np.mean([d for c, d in zip(head, dense, strict=True) if c.hit.article_id == aid])
        )
        for aid in art_dense
    }
    q_terms = set(question.terms)
    art_terms = {a.article_id: set(terms(f"{a.title} {a.text}")) for a in articles}
    title_terms = {a.article_id: set(terms(a.title)) for a in articles}
    q_word = _question_word(question.own)
    # the neighbours' scores: the answer is often the sentence after the one that matches
    by_place = {
        (c.hit.article_id, c.index): (float(d), c.features["lexical"])
        for c, d in zip(head, dense, strict=True)
    }
    lexical_all = {(c.hit.article_id, c.index): c.features["lexical"] for c in cands}
    floor = float(dense.min()) if len(dense) else 0.0
    out = []
    for i, c in enumerate(head):
        f = c.features
        aid = c.hit.article_id
        sentences = c.hit.sentence_texts()
        prev = sentences[c.index - 1][2] if c.index > 0 else ""
        following = sentences[c.index + 1][2] if c.index + 1 < len(sentences) else ""
        window = f"{prev} {c.text}"
        window_terms = set(terms(f"{window} {following}"))
        n_anchors = len(question.anchors)
        row = {
            "dense": float(dense[i]),
            "dense_gap": float(dense[i] - dense.max()),
            "dense_rank": float(dense_rank[i]),
            "art_dense_max": art_dense[aid],
            "art_dense_rank": float(art_order.index(aid)),
            "lexical": f["lexical"],
            "lexical_raw": f["lexical_raw"],
            "lexical_gap": f["lexical"] - float(lexical.max()),
            "lexical_rank": float(lexical_rank[i]),
            "novelty": f["novelty"],
            "position": c.index / n_sentences[aid],
            "first": f["first"],
            "n_words": float(len(words(c.text))),
            "has_number": float(any(ch.isdigit() for ch in c.text)),
            "q_terms": float(len(question.terms)),
            "q_word": float(q_word),
            "english": float(question.language == "en"),
            "follow_up": float(question.follow_up),
            "art_lexical_max": art_lexical[aid],
            "window_cov": _share(q_terms, window_terms),
            "art_cov": _share(q_terms, art_terms[aid]),
            "title_cov": _share(q_terms, title_terms[aid]),
            "dense_title": float(title_dense.get(c.hit.title, 0.0)),
            "art_dense_mean": art_dense_mean[aid],
            "prev_dense": by_place.get((aid, c.index - 1), (floor, 0.0))[0] - float(dense[i]),
            "next_dense": by_place.get((aid, c.index + 1), (floor, 0.0))[0] - float(dense[i]),
            "prev_lexical": lexical_all.get((aid, c.index - 1), 0.0),
            "next_lexical": lexical_all.get((aid, c.index + 1), 0.0),
            "local": f["local"],
            "context": f["context"],
            "bigram": f["bigram"],
            "order": f["order"],
            "roles": f["roles"],
            "atype": float(_ATYPES.get(question.atype, 0)) if question.atype else 0.0,
            "typed": f["typed"],
            "named": f["named"],
            "must_type": float(
                question.atype is not None and must_have_type(question.own, question.atype)
            ),
            "holder_near": float(question.holder is None or mentions(window, question.holder)),
            "n_anchors": float(n_anchors),
            "art_missing": float(len(art_missing[aid])),
            "art_missing_share": len(art_missing[aid]) / n_anchors if n_anchors else 0.0,
            "sent_anchor_share": (
                sum(mentions(window, a) for a in question.anchors) / n_anchors if n_anchors else 1.0
            ),
            "counted_missing": float(art_counted[aid]),
        }
        out.append(Scored(c, row))
    return out


def _share(wanted: set[str], have: set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 0.0


def _lexical_score(c: Candidate) -> float:
    """The plain score that picks the candidates worth embedding."""
    f = c.features
    return f["lexical"] + f["local"] + 0.5 * f["context"] + 0.3 * f["bigram"] + 0.3 * f["named"]


def _missing(question: Question, text: str) -> list[str]:
    anchored = question.anchors + tuple(a for a in question.context.split(", ") if a)
    return [a for a in anchored if not mentions(text, a)]


def _question_word(text: str) -> int:
    for token in words(text.lower())[:3]:
        if token in _QWORDS:
            return _QWORDS.index(token) + 1
    return 0


def matrix(rows: Sequence[dict[str, float]], names: Sequence[str] = FEATURES) -> np.ndarray:
    return np.array([[row[n] for n in names] for row in rows], dtype=np.float64).reshape(
        len(rows), len(names)
    )


# --- the refusal model's features: one row per question -----------------------------------------

# Each refusal feature and the candidate feature it is read from (None: from the scores alone).
REFUSAL_SOURCES: dict[str, str | None] = {
    "p1": None, "p2": None, "margin": None, "logit1": None, "p_sum": None,
    "same_article2": None, "dense1": "dense", "max_dense": "dense", "lexical1": "lexical",
    "max_lexical": "lexical", "english": "english", "follow_up": "follow_up",
    "q_terms": "q_terms", "window_cov1": "window_cov", "art_cov1": "art_cov",
    "title_cov1": "title_cov", "context1": "context", "art_missing1": "art_missing",
    "art_missing_share1": "art_missing_share", "sent_anchor_share1": "sent_anchor_share",
    "counted_missing1": "counted_missing", "n_anchors": "n_anchors", "typed1": "typed",
    "must_type": "must_type", "atype": "atype", "holder_near1": "holder_near",
    "named1": "named",
}  # fmt: skip
REFUSAL_FEATURES: tuple[str, ...] = tuple(REFUSAL_SOURCES)


def refusal_features(names: Sequence[str]) -> tuple[str, ...]:
    """The refusal features a reader with candidate features ``names`` can read."""
    have = set(names)
    return tuple(r for r, source in REFUSAL_SOURCES.items() if source is None or source in have)


def refusal_row(scored: Sequence[Scored]) -> dict[str, float]:
    """What the refusal model reads: the best candidates' scores and the question's kind."""
    ranked = sorted(scored, key=lambda s: s.p, reverse=True)
    best = ranked[0].features
    p1 = ranked[0].p
    p2 = ranked[1].p if len(ranked) > 1 else 0.0
    return {
        "p1": p1,
        "p2": p2,
        "margin": p1 - p2,
        "logit1": math.log(max(p1, 1e-6) / max(1 - p1, 1e-6)),
        "p_sum": sum(s.p for s in ranked[:5]),
        "dense1": best["dense"],
        "lexical1": best["lexical"],
        "art_missing1": best["art_missing"],
        "art_missing_share1": best["art_missing_share"],
        "sent_anchor_share1": best["sent_anchor_share"],
        "counted_missing1": best["counted_missing"],
        "typed1": best["typed"],
        "must_type": best["must_type"],
        "atype": best["atype"],
        "english": best["english"],
        "follow_up": best["follow_up"],
        "n_anchors": best["n_anchors"],
        "q_terms": best["q_terms"],
        "holder_near1": best["holder_near"],
        "named1": best["named"],
        "window_cov1": best["window_cov"],
        "art_cov1": best["art_cov"],
        "title_cov1": best["title_cov"],
        "context1": best["context"],
        "same_article2": float(
            len(ranked) > 1 and ranked[1].hit.article_id == ranked[0].hit.article_id
        ),
        "max_dense": max(s.features["dense"] for s in scored),
        "max_lexical": max(s.features["lexical"] for s in scored),
    }


# --- the trained reader -------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """Calibrated on held-out training domains by ``qa.answer.training``."""

    answer: float  # P(answerable) below this: refuse
    second: float  # a runner-up joins when its P is at least this share of the best one's


class Reader:
    """The trained ranker and refusal model, loaded from a weights folder."""

    def __init__(self, folder: Path = WEIGHTS_DIR) -> None:
        self.folder = Path(folder)

    @cached_property
    def config(self) -> dict[str, Any]:
        path = self.folder / "reader.json"
        if not path.exists():
            from qa.errors import ModelUnavailableError

            raise ModelUnavailableError(
                f"De lezer heeft geen gewichten in {self.folder}; train ze met: "
                "python -m qa train-reader"
            )
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return config

    @cached_property
    def _ranker(self) -> Any:
        return _load_booster(self.folder / self.config["ranker"])

    @cached_property
    def _refuser(self) -> Any:
        return _load_booster(self.folder / self.config["refuser"])

    @property
    def thresholds(self) -> Thresholds:
        t = self.config["thresholds"]
        return Thresholds(answer=float(t["answer"]), second=float(t["second"]))

    def score(self, scored: Sequence[Scored]) -> list[Scored]:
        """Each candidate with P(it answers), best first."""
        from dataclasses import replace

        if not scored:
            return []
        names = self.config["features"]
        probs = self._ranker.predict(matrix([s.features for s in scored], names))
        out = [replace(s, p=float(p)) for s, p in zip(scored, probs, strict=True)]
        return sorted(out, key=lambda s: s.p, reverse=True)

    def answerable(self, scored: Sequence[Scored]) -> float:
        """P(the candidates hold an answer at all), from the scored candidates."""
        if not scored:
            return 0.0
        row = refusal_row(scored)
        names = self.config["refusal_features"]
        return float(self._refuser.predict(matrix([row], names))[0])


def _load_booster(path: Path) -> Any:
    import lightgbm as lgb

    return lgb.Booster(model_str=path.read_text(encoding="utf-8"))
