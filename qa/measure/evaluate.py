"""Score the answerer on a questions file: retrieval, answers, refusals and latency.

    load and check the questions -> ask each one (timed) -> record what came back
    -> judge each record -> aggregate into ``Metrics`` -> table (and JSON) on stdout

The questions file is JSONL, one question a line (see ``eval/README.md``)::

    {"q": "Wat gaf Poetin aan Kim?", "doc": "nos-poetin-kim-2024-06.txt",
     "all": ["limousine", "theeservies", "dolk"]}
    {"q": "En wat gaf Kim terug?", "history": ["Wat gaf Poetin aan Kim?"],
     "doc": "nos-poetin-kim-2024-06.txt", "any": ["kunst"]}
    {"q": "Hoeveel kostte de limousine?", "doc": null, "refuse": true}

An answer counts as right when it is not a refusal, cites the gold article, contains the keywords
(``any``: one of them, ``all``: every one; case and diacritics ignored) and is short: at most
``MAX_ANSWER_CHARS`` characters once its ``[n]`` markers are removed.

What this module deliberately does not do: no LLM-as-judge and no fuzzy or semantic matching.
Keywords are the article's own words, so a score can be checked by hand and does not drift with
the judge. ``score`` is pure (records in, metrics out); only ``run_eval`` asks and prints.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from qa.text import fold
from qa.types import Answer

MAX_ANSWER_CHARS = 350
"""The longest answer (without its [n] markers) that still counts as a direct answer."""

_MARKER = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_KEYS = frozenset({"q", "doc", "any", "all", "refuse", "history"})


class Asker(Protocol):
    """What the eval needs of a pipeline: ``qa.pipeline.Pipeline`` is one."""

    def ask(self, question: str, history: Sequence[str] = ...) -> Answer: ...


class QuestionsFileError(ValueError):
    """A line of the questions file is not a valid question; the message names the line."""


# --- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One eval question: the text, its gold article and answer keywords, or a refusal."""

    q: str
    doc: str | None = None  # gold article id; None for a question the articles cannot answer
    any: tuple[str, ...] = ()  # the answer contains at least one of these
    all: tuple[str, ...] = ()  # the answer contains every one of these
    refuse: bool = False
    history: tuple[str, ...] = ()  # earlier questions of the conversation (a follow-up)

    @property
    def answerable(self) -> bool:
        return not self.refuse


def parse_question(line: str) -> Question:
    """Parse one JSONL line; raise ``ValueError`` with a Dutch reason when it is not valid."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"geen geldige JSON ({err.msg}, kolom {err.colno})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"verwacht een JSON-object, kreeg {type(raw).__name__}")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ValueError(
            f"onbekende sleutel {unknown[0]!r} (toegestaan: {', '.join(sorted(_KEYS))})"
        )
    q = raw.get("q")
    if not isinstance(q, str) or not q.strip():
        raise ValueError(f'"q" moet een niet-lege tekst zijn, kreeg {q!r}')
    refuse = raw.get("refuse", False)
    if not isinstance(refuse, bool):
        raise ValueError(f'"refuse" moet true of false zijn, kreeg {refuse!r}')
    history = _strings(raw, "history", allow_empty=True)
    any_ = _strings(raw, "any")
    all_ = _strings(raw, "all")
    doc = raw.get("doc")
    if refuse:
        if doc is not None or any_ or all_:
            raise ValueError('een vraag met "refuse": true heeft "doc": null en geen trefwoorden')
        return Question(q=q.strip(), refuse=True, history=history)
    if not isinstance(doc, str) or not doc.strip():
        raise ValueError(f'"doc" moet het id van het gouden artikel zijn, kreeg {doc!r}')
    if bool(any_) == bool(all_):
        raise ValueError('geef precies een van "any" of "all" (een lijst trefwoorden)')
    return Question(q=q.strip(), doc=doc.strip(), any=any_, all=all_, history=history)


def _strings(raw: dict[str, Any], key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if key not in raw:
        return ()
    value = raw[key]
    if (
        not isinstance(value, list)
        or not all(isinstance(v, str) and v.strip() for v in value)
        or (not value and not allow_empty)
    ):
        raise ValueError(f'"{key}" moet een lijst niet-lege teksten zijn, kreeg {value!r}')
    return tuple(v.strip() for v in value)


def load_questions(path: Path) -> list[Question]:
    """All questions of a JSONL file (blank lines skipped); a bad line is an error naming it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise QuestionsFileError(f"kan vragenbestand {path} niet lezen: {err}") from None
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(line))
        except ValueError as err:
            raise QuestionsFileError(f"{path}, regel {number}: {err}") from None
    if not questions:
        raise QuestionsFileError(f"{path} bevat geen vragen")
    return questions


# --- records and judging -----------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """What the pipeline did with one question."""

    question: Question
    answer: str
    refused: bool
    retrieved: tuple[str, ...]  # article ids in rank order
    cited: tuple[str, ...]  # article ids of the cited sources
    latency_ms: float = 0.0
    query: str = ""  # what was searched for (a follow-up rewritten as a standalone question)

    @classmethod
    def of(cls, question: Question, answer: Answer, latency_ms: float) -> Record:
        cited = dict.fromkeys(s.article_id for s in answer.sources if s.n in answer.cited)
        return cls(
            question=question, answer=answer.answer, refused=answer.refused,
            retrieved=tuple(answer.retrieved), cited=tuple(cited), latency_ms=latency_ms,
            query=answer.query,
        )  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """The judgement of one record. ``failure`` is "" when it passed, else one failure kind."""

    rank: int | None  # 1-based rank of the gold article in ``retrieved``; None if absent
    ok: bool
    failure: str = ""


FAILURE_KINDS = {
    "retrieval_miss": "gold article not retrieved",
    "wrong_article": "gold article retrieved, another one cited",
    "wrong_sentence": "gold article cited, keywords missing",
    "too_long": f"right, but longer than {MAX_ANSWER_CHARS} characters",
    "false_refusal": "refused an answerable question",
    "missed_refusal": "answered an unanswerable question",
}


def same_article(article_id: str, gold: str) -> bool:
    """Equal ids, or equal last path parts ("articles/x.txt" is gold "x.txt")."""
    return article_id == gold or _basename(article_id) == _basename(gold)


def _basename(article_id: str) -> str:
    return re.split(r"[\\/]", article_id.rstrip("/\\"))[-1]


def strip_markers(answer: str) -> str:
    """The answer without its citation markers: "Een dolk [1]." -> "Een dolk."."""
    return _MARKER.sub("", answer).strip()


def has_keywords(answer: str, question: Question) -> bool:
    """``any``: one keyword occurs; ``all``: every one does (case and diacritics folded)."""
    text = _norm(answer)
    if question.all:
        return all(_norm(k) in text for k in question.all)
    return any(_norm(k) in text for k in question.any)


def _norm(text: str) -> str:
    return " ".join(fold(text).split())


def gold_rank(record: Record) -> int | None:
    gold = record.question.doc
    if gold is None:
        return None
    for rank, article_id in enumerate(record.retrieved, start=1):
        if same_article(article_id, gold):
            return rank
    return None


def judge(record: Record) -> Verdict:
    """Decide whether one record passes, and if not, the first reason it fails."""
    q = record.question
    rank = gold_rank(record)
    if not q.answerable:
        return Verdict(rank, record.refused, "" if record.refused else "missed_refusal")
    assert q.doc is not None  # parse_question guarantees a gold id for answerable questions
    if record.refused:
        return Verdict(rank, False, "false_refusal")
    if not any(same_article(a, q.doc) for a in record.cited):
        return Verdict(rank, False, "retrieval_miss" if rank is None else "wrong_article")
    if not has_keywords(record.answer, q):
        return Verdict(rank, False, "wrong_sentence")
    if len(strip_markers(record.answer)) > MAX_ANSWER_CHARS:
        return Verdict(rank, False, "too_long")
    return Verdict(rank, True)


# --- metrics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """Aggregate scores. Shares are in [0, 1]; None when there is nothing to divide by."""

    n: int
    answerable: int
    unanswerable: int
    hit_at_1: float | None
    hit_at_5: float | None
    mrr: float | None
    answer_accuracy: float | None
    refusal_accuracy: float | None
    false_refusals: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def score(records: Sequence[Record]) -> Metrics:
    """Aggregate judged records. Retrieval and answer metrics count answerable questions only."""
    answerable = [r for r in records if r.question.answerable]
    unanswerable = [r for r in records if not r.question.answerable]
    ranks = [gold_rank(r) for r in answerable]
    latencies = [r.latency_ms for r in records]
    return Metrics(
        n=len(records),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        hit_at_1=_share([rank is not None and rank <= 1 for rank in ranks]),
        hit_at_5=_share([rank is not None and rank <= 5 for rank in ranks]),
        mrr=_mean([1.0 / rank if rank else 0.0 for rank in ranks]),
        answer_accuracy=_share([judge(r).ok for r in answerable]),
        refusal_accuracy=_share([r.refused for r in unanswerable]),
        false_refusals=_share([r.refused for r in answerable]),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile with linear interpolation between ranks (as numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


# --- running -----------------------------------------------------------------------------------


def run_eval(pipeline: Asker, questions: Path, *, out: Path | None, as_json: bool) -> int:
    """Ask every question, write per-question results to ``out`` (JSONL), print the metrics."""
    # 1. check the whole file before asking anything
    items = load_questions(questions)
    # 2. ask, timed
    records = []
    progress = sys.stderr.isatty()  # a run can take minutes; show where it is, but not in logs
    for number, question in enumerate(items, start=1):
        if progress:
            print(f"\r{number}/{len(items)}", end="", file=sys.stderr, flush=True)
        start = time.perf_counter()
        answer = pipeline.ask(question.q, question.history)
        records.append(Record.of(question, answer, (time.perf_counter() - start) * 1000))
    if progress:
        print("\r", end="", file=sys.stderr)
    # 3. judge and aggregate
    verdicts = [judge(r) for r in records]
    metrics = score(records)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as f:
            for record, verdict in zip(records, verdicts, strict=True):
                f.write(json.dumps(result_json(record, verdict), ensure_ascii=False) + "\n")
    # 4. report
    print(format_report(metrics, records, verdicts, source=questions))
    if as_json:
        print(json.dumps(metrics.to_json(), ensure_ascii=False))
    return 0


def result_json(record: Record, verdict: Verdict) -> dict[str, Any]:
    """One line of the results file."""
    q = record.question
    return {
        "q": q.q,
        "history": list(q.history),
        "query": record.query,
        "doc": q.doc,
        "refuse": q.refuse,
        "answer": record.answer,
        "refused": record.refused,
        "retrieved": list(record.retrieved),
        "cited": list(record.cited),
        "gold_rank": verdict.rank,
        "ok": verdict.ok,
        "failure": verdict.failure or None,
        "latency_ms": round(record.latency_ms, 1),
    }


def format_report(
    metrics: Metrics, records: Sequence[Record], verdicts: Sequence[Verdict], *, source: Path
) -> str:
    """The failures grouped by kind, then a table of the metrics."""
    lines = []
    for kind, meaning in FAILURE_KINDS.items():
        failed = [r for r, v in zip(records, verdicts, strict=True) if v.failure == kind]
        if not failed:
            continue
        lines.append(f"{kind} ({len(failed)}): {meaning}")
        for r in failed:
            answer = " ".join(r.answer.split())
            answer = answer if len(answer) <= 100 else answer[:99] + "…"
            lines.append(f"  - {r.question.q}\n      -> {answer}")
        lines.append("")
    m = metrics
    lines += [
        f"eval: {source} — {m.n} questions ({m.answerable} answerable, "
        f"{m.unanswerable} unanswerable)",
        f"{'metric':<20} {'value':>9}",
        f"{'-' * 20} {'-' * 9}",
    ]
    rows: list[tuple[str, float | None, str]] = [
        ("hit@1", m.hit_at_1, "%"),
        ("hit@5", m.hit_at_5, "%"),
        ("MRR", m.mrr, ""),
        ("answer accuracy", m.answer_accuracy, "%"),
        ("refusal accuracy", m.refusal_accuracy, "%"),
        ("false refusals", m.false_refusals, "%"),
        ("latency p50 (ms)", m.latency_p50_ms, "ms"),
        ("latency p95 (ms)", m.latency_p95_ms, "ms"),
    ]
    for label, value, unit in rows:
        lines.append(f"{label:<20} {_cell(value, unit):>9}")
    return "\n".join(lines)


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "%":
        return f"{value:.1%}"
    if unit == "ms":
        return f"{value:.0f}"
    return f"{value:.3f}"
