"""Train the reader from ``data/reader/``: ``python -m qa train-reader`` (``make train-reader``).

The steps, top to bottom:

1. load the articles and questions (``load_data``), each article tagged with its domain (its
   file, "-2" files joining their first file) and its cluster (three consecutive articles on
   one story in the clustered files);
2. build the examples (``build_examples``): every question is read against its own article and
   the two other articles nearest to it (mostly its cluster's twins), exactly as at question
   time (``qa.answer.reader.features``); a candidate is positive when it holds the answer span.
   A quarter of the answerable questions are also read against the three nearest articles of
   *other* stories, as if their story were not in the index: the reader must refuse those. The
   sentence embeddings are cached on disk, keyed by model and text;
3. cross-fit by domain (``FOLDS`` groups of whole domains, never split by question): the ranker
   is trained on the other folds and scores the held-out fold, with held-out metrics per
   round; those held-out scores train and calibrate the refusal model and the thresholds;
4. train the final ranker and refusal model on everything, write them to the weights folder with
   ``reader.json`` (features, thresholds, held-out metrics) and ``manifest.json`` (sha256 of
   every file, a hash of the training data, the command).

Seeded and single-threaded per model, so the same data gives the same weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.question import Question, parse_question
from qa.answer.reader import (
    FEATURES,
    REFUSAL_FEATURES,
    WEIGHTS_DIR,
    Scored,
    features,
    matrix,
    refusal_features,
    refusal_row,
)
from qa.text import split_sentences, terms
from qa.types import Hit

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "reader"
FOLDS = 4
SEED = 13
# What is known about a feature's direction, as a constraint rather than a rule: a sentence that
# puts the question's names in other roles ("Kim gaf ... aan Poetin" for "Wat gaf Poetin aan
# Kim?") never answers better for it (too rare in the data for the model to learn alone).
MONOTONE = {"roles": 1}
ABSENT_SHARE = 0.25  # answerable questions also read without their article: refuse
RANKER_PARAMS: dict[str, Any] = {
    "objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 20,
    "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "seed": SEED, "deterministic": True, "force_col_wise": True, "num_threads": 2,
    "verbosity": -1,
}  # fmt: skip
RANKER_ROUNDS = 300
REFUSER_PARAMS: dict[str, Any] = {**RANKER_PARAMS, "num_leaves": 7, "min_data_in_leaf": 30}
REFUSER_ROUNDS = 200
MAX_ANSWERABLE_REFUSED = 0.10  # the calibration never refuses more answerable questions
SECOND_PRECISION = 0.25  # a runner-up joins only where such runners-up hold the answer this often

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DataQuestion:
    q: str
    history: tuple[str, ...]
    refuse: bool
    answer: str = ""
    sentence: str = ""
    near: str = ""
    style: str = ""


@dataclass(frozen=True)
class DataArticle:
    id: str
    title: str
    date: str | None
    text: str
    domain: str
    cluster: str
    questions: tuple[DataQuestion, ...]


@dataclass
class Example:
    """One question read against its candidate articles: the candidates and their labels."""

    article: DataArticle
    question: DataQuestion
    parsed: Question
    scored: list[Scored]
    labels: list[int]
    domain: str
    off_topic: bool = False  # read without its own article (as if not in the index): refuse

    @property
    def answerable(self) -> bool:
        return not self.question.refuse


@dataclass
class TrainReport:
    metrics: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


# --- 1. the data --------------------------------------------------------------------------------


def load_data(folder: Path = DATA_DIR, *, limit: int | None = None) -> list[DataArticle]:
    """Every article of the ``train-*.jsonl`` files of ``folder`` (``limit``: the first few of
    each file, for a quick run)."""
    out: list[DataArticle] = []
    files = sorted(folder.glob("train-*.jsonl"))
    if not files:
        raise FileNotFoundError(f"geen trainingsbestanden (train-*.jsonl) in {folder}")
    for path in files:
        domain = re.sub(r"^train-|-\d+$", "", path.stem)
        clustered = _is_clustered(path)
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for i, line in enumerate(lines[:limit] if limit else lines):
            raw = json.loads(line)
            questions = tuple(
                DataQuestion(
                    q=q["q"],
                    history=tuple(q.get("history", ())),
                    refuse=bool(q["refuse"]),
                    answer=q.get("answer", ""),
                    sentence=q.get("sentence", ""),
                    near=q.get("near", ""),
                    style=q.get("style", ""),
                )  # fmt: skip
                for q in raw["questions"]
            )
            cluster = f"{path.stem}:{i // 3}" if clustered else f"{path.stem}:{raw['id']}"
            out.append(
                DataArticle(
                    id=raw["id"],
                    title=raw.get("title", ""),
                    date=raw.get("date"),
                    text=raw["text"],
                    domain=domain,
                    cluster=cluster,
                    questions=questions,
                )  # fmt: skip
            )
    return out


# The first seven files hold unrelated articles; every later file comes in clusters of three
# consecutive articles on one story (see data/reader/README.md).
UNCLUSTERED = frozenset({
    "train-binnenland", "train-buitenland", "train-cultuur", "train-economie", "train-regio",
    "train-sport", "train-wetenschap",
})  # fmt: skip


def _is_clustered(path: Path) -> bool:
    return path.stem not in UNCLUSTERED


def data_hash(folder: Path = DATA_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("train-*.jsonl")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# --- 2. the examples ----------------------------------------------------------------------------


class EmbeddingCache:
    """Sentence and question vectors, computed once per model and text, kept on disk."""

    def __init__(self, embeddings: Any, path: Path | None) -> None:
        self.embeddings = embeddings
        self.path = path
        self.vectors: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            with np.load(path) as data:
                self.vectors = {k: data[k] for k in data.files}

    def fill(self, texts: Sequence[str], *, query: bool, progress: Progress | None) -> None:
        todo = list(dict.fromkeys(t for t in texts if self._key(t, query) not in self.vectors))
        if not todo:
            return
        from tqdm import tqdm

        kind = "vragen" if query else "zinnen"
        bar = tqdm(total=len(todo), desc=f"embedden ({kind})", unit="tekst", disable=None)
        for start in range(0, len(todo), 64):
            batch = todo[start : start + 64]
            for text, vector in zip(batch, self._encode(batch, query), strict=True):
                self.vectors[self._key(text, query)] = vector
            bar.update(len(batch))
        bar.close()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp.npz")
            np.savez(tmp, **self.vectors)  # type: ignore[arg-type]
            tmp.replace(self.path)

    def _encode(self, texts: list[str], query: bool) -> np.ndarray:
        encode = getattr(self.embeddings, "encode", None)
        if encode is not None:
            return np.asarray(encode(texts, query=query), dtype=np.float32)
        if query:
            return np.asarray([self.embeddings.embed_query(t) for t in texts], dtype=np.float32)
        return np.asarray(self.embeddings.embed_documents(texts), dtype=np.float32)

    def get(self, texts: list[str], *, query: bool) -> np.ndarray:
        return np.stack([self.vectors[self._key(t, query)] for t in texts])

    @staticmethod
    def _key(text: str, query: bool) -> str:
        return ("q" if query else "p") + hashlib.sha1(text.encode("utf-8")).hexdigest()


def article_hit(article: DataArticle) -> Hit:
    """A training article as the whole-article hit the answerer reads at question time."""
    return Hit(
        chunk_id=f"{article.id}#all", article_id=article.id, text=article.text, start=0,
        sentences=tuple(split_sentences(article.text)), title=article.title, date=article.date,
    )  # fmt: skip


def build_examples(
    articles: Sequence[DataArticle],
    embeddings: Any,
    *,
    cache_path: Path | None = None,
    progress: Progress | None = None,
) -> list[Example]:
    say = progress or (lambda _msg: None)
    rng = random.Random(SEED)
    hits = {a.id: article_hit(a) for a in articles}
    # IDF over the training articles, as the lexical index gives it at question time
    df: dict[str, int] = {}
    for a in articles:
        for t in set(terms(f"{a.title} {a.text}")):
            df[t] = df.get(t, 0) + 1

    def doc_freq(ts: Sequence[str]) -> tuple[dict[str, int], int]:
        return {t: df.get(t, 0) for t in ts}, len(articles)

    cache = EmbeddingCache(embeddings, cache_path)
    sentences = [h.text[s:e] for h in hits.values() for s, e in h.sentences]
    sentences += [a.title for a in articles if a.title]
    say(f"{len(articles)} artikelen, {len(sentences)} zinnen, "
        f"{sum(len(a.questions) for a in articles)} vragen")  # fmt: skip
    cache.fill(sentences, query=False, progress=progress)
    questions = [parse_question(q.q, q.history) for a in articles for q in a.questions]
    cache.fill([q.query for q in questions], query=True, progress=progress)

    def encode(texts: list[str]) -> np.ndarray:
        return cache.get(texts, query=False)

    # what retrieval would read: the articles whose sentences come nearest to the question
    nearest = _nearest_articles(articles, hits, questions, cache, k=8)
    cluster = {a.id: a.cluster for a in articles}
    examples: list[Example] = []
    pairs = [(article, q) for article in articles for q in article.questions]
    for (a, dq), question, near in zip(pairs, questions, nearest, strict=True):
        qv = cache.get([question.query], query=True)[0]
        # the question's own article and the two nearest others (a cluster's twins, mostly)
        read = [hits[a.id], *[hits[o] for o in near if o != a.id][:2]]
        rng.shuffle(read)  # the gold article has no fixed place
        scored = features(question, read, encode=encode, query_vector=qv, doc_freq=doc_freq)
        labels = [_label(a, dq, s) for s in scored]
        examples.append(Example(a, dq, question, scored, labels, a.domain))
        # and, for some questions, what retrieval brings when the story is not in the index at
        # all: the three nearest articles of other stories; the reader must refuse there
        if not dq.refuse and rng.random() < ABSENT_SHARE:
            absent = replace(dq, refuse=True, answer="", sentence="")
            others = [hits[o] for o in near if cluster[o] != a.cluster][:3]
            scored = features(question, others, encode=encode, query_vector=qv, doc_freq=doc_freq)
            examples.append(
                Example(a, absent, question, scored, [0] * len(scored), a.domain, off_topic=True)
            )
    return examples


def _nearest_articles(
    articles: Sequence[DataArticle],
    hits: dict[str, Hit],
    questions: Sequence[Question],
    cache: EmbeddingCache,
    k: int = 4,
) -> list[list[str]]:
    """For each question, the ``k`` articles with the sentence most similar to it (a stand-in
    for the hybrid retrieval at question time)."""
    owner: list[int] = []
    texts: list[str] = []
    for i, a in enumerate(articles):
        h = hits[a.id]
        for s, e in h.sentences:
            owner.append(i)
            texts.append(h.text[s:e])
    sentences = cache.get(texts, query=False)
    owners = np.array(owner)
    out = []
    for start in range(0, len(questions), 256):
        batch = questions[start : start + 256]
        sims = cache.get([q.query for q in batch], query=True) @ sentences.T
        best = np.full((len(batch), len(articles)), -1.0, dtype=np.float32)
        np.maximum.at(best.T, owners, sims.T)
        for row in best:
            out.append([articles[j].id for j in np.argsort(-row)[:k]])
    return out


def _label(article: DataArticle, q: DataQuestion, s: Scored) -> int:
    if q.refuse or s.hit.article_id != article.id:
        return 0
    at = article.text.find(q.sentence)
    if at < 0:
        return 0
    pos = at + max(q.sentence.find(q.answer), 0)
    return int(s.cand.start <= pos < s.cand.end)


# --- 3. and 4. training and calibration ---------------------------------------------------------


def folds(domains: Sequence[str], k: int = FOLDS) -> dict[str, int]:
    """Whole domains to ``k`` folds, seeded."""
    names = sorted(set(domains))
    random.Random(SEED).shuffle(names)
    return {d: i % k for i, d in enumerate(names)}


def _ranker_data(examples: Sequence[Example], names: Sequence[str]) -> tuple[Any, Any]:
    rows = [s.features for e in examples for s in e.scored]
    labels = [lab for e in examples for lab in e.labels]
    return matrix(rows, names), np.array(labels, dtype=np.float64)


def train_ranker(
    train: Sequence[Example],
    names: Sequence[str] = FEATURES,
    *,
    held_out: Sequence[Example] = (),
    rounds: int = RANKER_ROUNDS,
    progress: Progress | None = None,
) -> Any:
    import lightgbm as lgb

    x, y = _ranker_data(train, names)
    data = lgb.Dataset(x, y, feature_name=list(names), free_raw_data=False)
    params = {**RANKER_PARAMS, "monotone_constraints": [MONOTONE.get(n, 0) for n in names]}
    callbacks = []
    if held_out and progress is not None:
        callbacks.append(_held_out_report(held_out, names, progress, every=max(rounds // 5, 1)))
    return lgb.train(params, data, num_boost_round=rounds, callbacks=callbacks)


def _held_out_report(
    held_out: Sequence[Example], names: Sequence[str], progress: Progress, every: int
) -> Callable[[Any], None]:
    """A LightGBM callback: held-out top-1 of the ranker every ``every`` rounds."""
    x, _ = _ranker_data(held_out, names)

    def report(env: Any) -> None:
        if (env.iteration + 1) % every and env.iteration + 1 != env.end_iteration:
            return
        probs = env.model.predict(x, num_iteration=env.iteration + 1)
        top1 = top1_accuracy(held_out, probs)
        progress(f"  ronde {env.iteration + 1}: top-1 op achtergehouden domeinen {top1:.3f}")

    return report


def top1_accuracy(examples: Sequence[Example], probs: Sequence[float]) -> float:
    right = total = 0
    i = 0
    for e in examples:
        n = len(e.scored)
        if e.answerable:
            total += 1
            if n and e.labels[int(np.argmax(probs[i : i + n]))]:
                right += 1
        i += n
    return right / total if total else 0.0


def with_probs(examples: Sequence[Example], probs: Sequence[float]) -> list[list[Scored]]:
    from dataclasses import replace

    out, i = [], 0
    for e in examples:
        n = len(e.scored)
        out.append(
            [replace(s, p=float(p)) for s, p in zip(e.scored, probs[i : i + n], strict=True)]
        )
        i += n
    return out


def train_refuser(
    rows: Sequence[dict[str, float]],
    answerable: Sequence[bool],
    names: Sequence[str] = REFUSAL_FEATURES,
) -> Any:
    import lightgbm as lgb

    x = matrix(rows, names)
    data = lgb.Dataset(x, np.array(answerable, dtype=np.float64), feature_name=list(names))
    return lgb.train(dict(REFUSER_PARAMS), data, num_boost_round=REFUSER_ROUNDS)


@dataclass
class CrossFit:
    """Held-out (out-of-fold) scores for every example."""

    scored: list[list[Scored]]  # candidates with held-out P(answers)
    p_answerable: list[float]  # held-out P(answerable)


def cross_fit(
    examples: Sequence[Example],
    names: Sequence[str] = FEATURES,
    *,
    k: int = FOLDS,
    progress: Progress | None = None,
    rounds: int = RANKER_ROUNDS,
) -> CrossFit:
    say = progress or (lambda _msg: None)
    fold_of = folds([e.domain for e in examples], k)
    scored: list[list[Scored] | None] = [None] * len(examples)
    for fold in range(k):
        test_idx = [i for i, e in enumerate(examples) if fold_of[e.domain] == fold]
        train = [e for e in examples if fold_of[e.domain] != fold]
        test = [examples[i] for i in test_idx]
        domains = sorted({e.domain for e in test})
        say(f"vouw {fold + 1}/{k}: achtergehouden {', '.join(domains)}")
        model = train_ranker(train, names, held_out=test, rounds=rounds, progress=progress)
        x, _ = _ranker_data(test, names)
        for i, s in zip(test_idx, with_probs(test, model.predict(x)), strict=True):
            scored[i] = s
    done = [s or [] for s in scored]
    # the refusal model, cross-fit the same way on the ranker's held-out scores
    rows = [refusal_row(s) if s else _empty_row() for s in done]
    refusal_names = refusal_features(names)
    p_answerable = [0.0] * len(examples)
    for fold in range(k):
        train_idx = [i for i, e in enumerate(examples) if fold_of[e.domain] != fold]
        test_idx = [i for i, e in enumerate(examples) if fold_of[e.domain] == fold]
        model = train_refuser(
            [rows[i] for i in train_idx],
            [examples[i].answerable for i in train_idx],
            refusal_names,
        )
        probs = model.predict(matrix([rows[i] for i in test_idx], refusal_names))
        for i, p in zip(test_idx, probs, strict=True):
            p_answerable[i] = float(p)
    return CrossFit(done, p_answerable)


def _empty_row() -> dict[str, float]:
    return {name: 0.0 for name in REFUSAL_FEATURES}


def calibrate(examples: Sequence[Example], fit: CrossFit) -> dict[str, float]:
    """The thresholds, from held-out scores only.

    ``second``: a runner-up of the same article joins the answer when its P is at least this
    share of the best sentence's P (the reader can hardly tell the two apart): the lowest share
    at which the runners-up that join hold the answer at least ``SECOND_PRECISION`` of the
    time (held-out, a runner-up holds it about a fifth of the time whatever its own P).
    ``answer``: refuse below it; chosen to maximise answer accuracy plus the share of
    unanswerable questions refused, with at most ``MAX_ANSWERABLE_REFUSED`` of the answerable
    ones refused."""
    outcomes = [_outcome(e, s) for e, s in zip(examples, fit.scored, strict=True)]
    runners = [(o.p2 / o.p1, o.second_right) for o in outcomes if o.p2 is not None and o.p1 > 0]
    second_t = 1.0
    for t in np.linspace(0.05, 1.0, 96):
        chosen = [right for ratio, right in runners if ratio >= t]
        if len(chosen) >= 10 and sum(chosen) / len(chosen) >= SECOND_PRECISION:
            second_t = float(t)
            break
    best_t, best_value = 0.5, -1.0
    for t in np.linspace(0.01, 0.99, 99):
        m = _metrics(examples, outcomes, fit.p_answerable, float(t), second_t)
        if m["answerable_refused"] > MAX_ANSWERABLE_REFUSED:
            continue
        value = m["answer_accuracy"] + m["unanswerable_refused"]
        if value > best_value:
            best_t, best_value = float(t), value
    return {"answer": round(best_t, 4), "second": round(second_t, 4)}


@dataclass(frozen=True)
class _Outcome:
    """For one question: does the answer hold the answer span without and with its runner-up,
    and the runner-up's P (None when no runner-up of the same article could join)."""

    right: bool
    right_with_second: bool
    p1: float
    p2: float | None
    second_right: bool  # the runner-up itself holds the answer


def _outcome(e: Example, scored: Sequence[Scored]) -> _Outcome:
    from qa.answer.extractive import answer_sentences

    if not e.answerable or not scored:
        return _Outcome(False, False, 0.0, None, False)
    ranked = sorted(scored, key=lambda x: x.p, reverse=True)
    alone = answer_sentences(e.parsed, ranked, second=2.0)
    both = answer_sentences(e.parsed, ranked, second=0.0)
    extra = [p for p in both if all(p.start != q.start for q in alone)]
    answer = e.question.answer
    return _Outcome(
        right=answer in " ".join(p.text for p in alone),
        right_with_second=answer in " ".join(p.text for p in both),
        p1=ranked[0].p,
        p2=next((s.p for s in ranked[1:] if extra and s.cand.start == extra[0].start), None),
        second_right=bool(extra) and answer in extra[0].text,
    )


def _metrics(
    examples: Sequence[Example],
    outcomes: Sequence[_Outcome],
    p_answerable: Sequence[float],
    threshold: float,
    second: float,
) -> dict[str, float]:
    right = ans = refused_ans = unans = refused_unans = 0
    for e, o, p in zip(examples, outcomes, p_answerable, strict=True):
        refuse = p < threshold or not e.scored
        if e.answerable:
            ans += 1
            refused_ans += refuse
            joins = o.p2 is not None and o.p2 >= second * o.p1
            right += not refuse and (o.right_with_second if joins else o.right)
        else:
            unans += 1
            refused_unans += refuse
    return {
        "answer_accuracy": right / ans if ans else 0.0,
        "unanswerable_refused": refused_unans / unans if unans else 0.0,
        "answerable_refused": refused_ans / ans if ans else 0.0,
    }


def decision_metrics(
    examples: Sequence[Example], fit: CrossFit, threshold: float, second: float = 1.0
) -> dict[str, float]:
    """Held-out answer accuracy, share of unanswerable questions refused and of answerable ones
    refused, at ``threshold``. An answer is right when it is not refused and its sentences (as
    ``qa.answer.extractive`` puts them together, with ``second`` as the second-sentence
    threshold) hold the answer span: what the eval sets check with keywords."""
    outcomes = [_outcome(e, s) for e, s in zip(examples, fit.scored, strict=True)]
    return _metrics(examples, outcomes, fit.p_answerable, threshold, second)


def auc(scores: Sequence[float], positive: Sequence[bool]) -> float:
    """Area under the ROC curve (the chance a positive outscores a negative)."""
    pos = [s for s, y in zip(scores, positive, strict=True) if y]
    neg = [s for s, y in zip(scores, positive, strict=True) if not y]
    if not pos or not neg:
        return math.nan
    ranks = np.argsort(np.argsort(np.array(pos + neg), kind="stable"), kind="stable") + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def train_reader(
    embeddings: Any,
    *,
    data_dir: Path = DATA_DIR,
    out_dir: Path = WEIGHTS_DIR,
    cache_path: Path | None = None,
    limit: int | None = None,
    folds_k: int = FOLDS,
    rounds: int = RANKER_ROUNDS,
    command: str = "python -m qa train-reader",
    progress: Progress | None = None,
) -> TrainReport:
    """Steps 1-4: data -> examples -> cross-fit and calibrate -> final models and manifest."""
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    articles = load_data(data_dir, limit=limit)
    examples = build_examples(articles, embeddings, cache_path=cache_path, progress=say)
    elapsed = time.monotonic() - started
    say(f"{len(examples)} vragen klaar ({elapsed:.0f} s); kruisvalidatie per domein")
    fit = cross_fit(examples, k=folds_k, progress=say, rounds=rounds)
    thresholds = calibrate(examples, fit)
    metrics = held_out_metrics(examples, fit, thresholds)
    say("achtergehouden: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    say("definitieve modellen trainen op alle domeinen")
    ranker = train_ranker(examples, rounds=rounds)
    # The refusal model learns from the ranker's *held-out* scores: at question time the ranker
    # meets sentences it never saw, and its scores there look like held-out ones, not like the
    # (higher) scores it gives its own training data.
    refuser = train_refuser(
        [refusal_row(s) if s else _empty_row() for s in fit.scored],
        [e.answerable for e in examples],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "ranker.txt", out_dir / "refuser.txt", out_dir / "reader.json"]
    files[0].write_text(ranker.model_to_string(), encoding="utf-8")
    files[1].write_text(refuser.model_to_string(), encoding="utf-8")
    config = {
        "ranker": "ranker.txt", "refuser": "refuser.txt", "features": list(FEATURES),
        "refusal_features": list(REFUSAL_FEATURES), "thresholds": thresholds,
    }  # fmt: skip
    files[2].write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    manifest = {
        "command": command,
        "data": {"folder": _relative(data_dir), "sha256": data_hash(data_dir),
                 "articles": len(articles),
                 "questions": sum(len(a.questions) for a in articles),
                 "examples": len(examples)},
        "held_out": {"folds": folds_k, "split": "by domain", **metrics},
        "thresholds": thresholds,
        "files": {f.name: _sha256(f) for f in files},
        "seconds": round(time.monotonic() - started, 1),
    }  # fmt: skip
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return TrainReport(metrics=metrics, files=[*files, out_dir / "manifest.json"])


def held_out_metrics(
    examples: Sequence[Example], fit: CrossFit, thresholds: dict[str, float]
) -> dict[str, float]:
    answerable = [e for e in examples if e.answerable]
    probs = [s.p for scored in fit.scored for s in scored]
    top1 = top1_accuracy(examples, probs)
    reachable = sum(any(e.labels) for e in answerable) / max(len(answerable), 1)
    m = decision_metrics(examples, fit, thresholds["answer"], thresholds["second"])
    for kind, wanted in (("near_miss_refused", False), ("absent_refused", True)):
        refused = [
            p < thresholds["answer"]
            for e, p in zip(examples, fit.p_answerable, strict=True)
            if not e.answerable and e.off_topic is wanted
        ]
        m[kind] = sum(refused) / len(refused) if refused else 0.0
    return {
        "top1": round(top1, 4),
        "gold_in_candidates": round(reachable, 4),
        "refusal_auc": round(auc(fit.p_answerable, [e.answerable for e in examples]), 4),
        **{k: round(v, 4) for k, v in m.items()},
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(DATA_DIR.parents[1]))
    except ValueError:
        return str(path)
