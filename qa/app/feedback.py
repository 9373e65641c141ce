"""Readers' 👍/👎 on answers: written by the app, read back by ``python -m qa feedback``.

Every 👍, 👎, withdrawal or comment appends one JSON line to ``feedback.jsonl`` in the index
folder (``Settings.index_dir``; with a Chroma server that is the app's own local folder, where its
uploads go too). A line says which answer it is about (``id``), and a later line about the same
answer replaces the earlier one: a 👍 changed into a 👎, a comment added, or the thumb taken back
(``verdict: null``). So the file is only ever appended to, and each line is written whole, with
one write under a lock, so that two people giving feedback at once never mix their lines.

``python -m qa feedback`` counts the current 👍 and 👎, shows the latest 👎 with a comment, and
with ``--review FILE`` writes every 👎 as a line in the eval set's format with the answer fields
left empty (``doc: null``, ``any: []``), ready to be completed into an eval question.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from qa.app.conversation import MAX_HISTORY, Turn
from qa.settings import REPO_ROOT, Settings

FILE_NAME = "feedback.jsonl"
VERDICTS = {True: "up", False: "down"}


def feedback_path(settings: Settings) -> Path:
    """Where the app writes feedback and ``python -m qa feedback`` reads it."""
    return settings.index_dir / FILE_NAME


def app_version() -> str:
    """Vraagbaak's version: the installed package's, else pyproject.toml's (a Space runs the
    repository without installing it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vraagbaak")
    except PackageNotFoundError:
        pass
    try:
        import tomllib

        data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        return str(data["project"]["version"])
    except (OSError, KeyError, ValueError):
        return "onbekend"


# --- one record ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackRecord:
    id: str  # the answer's id; a later record with the same id replaces this one
    time: str  # ISO 8601
    verdict: str | None  # "up", "down", or None: the reader took the thumb back
    question: str
    answer: str
    history: tuple[str, ...] = ()  # the earlier questions of the conversation
    cited: tuple[str, ...] = ()  # ids of the articles the answer cites
    comment: str = ""
    version: str = ""
    mode: str = ""  # which answerer answered ("offline" or the LLM)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "time": self.time, "verdict": self.verdict, "comment": self.comment,
            "question": self.question, "history": list(self.history), "answer": self.answer,
            "cited": list(self.cited), "version": self.version, "mode": self.mode,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Any) -> FeedbackRecord:
        if not isinstance(data, dict):
            raise ValueError("geen JSON-object")
        verdict = data.get("verdict")
        if verdict not in ("up", "down", None):
            raise ValueError(f"onbekend oordeel {verdict!r}")
        return cls(
            id=str(data["id"]),
            time=str(data.get("time") or ""),
            verdict=verdict,
            question=str(data.get("question") or ""),
            answer=str(data.get("answer") or ""),
            history=tuple(str(h) for h in data.get("history") or []),
            cited=tuple(str(c) for c in data.get("cited") or []),
            comment=str(data.get("comment") or ""),
            version=str(data.get("version") or ""),
            mode=str(data.get("mode") or ""),
        )


def record_for(
    turns: Sequence[Turn], position: int, verdict: str | None, comment: str = "", *,
    now: dt.datetime, version: str,
) -> FeedbackRecord | None:  # fmt: skip
    """The record of feedback on the answer of ``turns[position]`` (None: not an answer)."""
    if not 0 <= position < len(turns) or turns[position].answer is None:
        return None
    turn = turns[position]
    answer = turn.answer
    assert answer is not None
    earlier = [t.question for t in turns[:position] if t.answer is not None][-MAX_HISTORY:]
    cited = [s.article_id for s in answer.sources if s.n in set(answer.cited)]
    return FeedbackRecord(
        id=turn.id, time=now.isoformat(timespec="seconds"), verdict=verdict,
        question=turn.question, answer=answer.answer, history=tuple(earlier),
        cited=tuple(dict.fromkeys(cited)), comment=comment.strip(), version=version,
        mode=answer.mode,
    )  # fmt: skip


# --- the file -----------------------------------------------------------------------------------


class FeedbackLog:
    """``feedback.jsonl``: appended one whole line at a time, read back leniently."""

    _locks: dict[Path, threading.Lock] = {}
    _locks_guard = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._locks_guard:
            self._lock = self._locks.setdefault(path.resolve(), threading.Lock())

    def append(self, record: FeedbackRecord) -> None:
        line = (json.dumps(record.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                _lock_file(fd)
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut off by a crash
                    line = b"\n" + line
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            finally:
                os.close(fd)

    def records(self) -> tuple[list[FeedbackRecord], int]:
        """Every readable record in file order, and how many lines could not be read."""
        if not self.path.exists():
            return [], 0
        records, bad = [], 0
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    records.append(FeedbackRecord.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    bad += 1
        return records, bad


def _lock_file(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: the thread lock only
        return
    fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed


def current(records: Iterable[FeedbackRecord]) -> list[FeedbackRecord]:
    """The feedback as it stands: the last record per answer, withdrawn ones left out, in the
    order the answers were first rated."""
    latest: dict[str, FeedbackRecord] = {}
    for record in records:
        if record.verdict is None:
            latest.pop(record.id, None)
        else:  # a replaced record keeps its place: a dict keeps the first insertion's order
            latest[record.id] = record
    return list(latest.values())


# --- the summary and the review file ------------------------------------------------------------


class Summary(NamedTuple):
    up: int
    down: int
    recent_comments: list[FeedbackRecord]  # the latest 👎 with a comment, newest first


def summarize(records: Sequence[FeedbackRecord], *, recent: int = 5) -> Summary:
    now = current(records)
    downs = [r for r in now if r.verdict == "down"]
    commented = sorted((r for r in downs if r.comment), key=lambda r: r.time, reverse=True)
    return Summary(len(now) - len(downs), len(downs), commented[:recent])


def review_items(records: Sequence[FeedbackRecord]) -> list[dict[str, Any]]:
    """Every current 👎 as a line of the eval format, its answer fields left to be filled in."""
    return [
        {
            "q": r.question,
            "history": list(r.history),
            "doc": None,
            "any": [],
            "answer_was": r.answer,
            "comment": r.comment,
        }  # fmt: skip
        for r in current(records)
        if r.verdict == "down"
    ]


def format_summary(summary: Summary, path: Path, *, bad_lines: int = 0) -> str:
    total = summary.up + summary.down
    lines = [
        f"Feedback in {path}: {total} {'beoordeling' if total == 1 else 'beoordelingen'}, "
        f"{summary.up} \U0001f44d, {summary.down} \U0001f44e."
    ]
    if bad_lines:
        lines.append(f"Let op: {bad_lines} onleesbare regel(s) overgeslagen.")
    if summary.recent_comments:
        lines += ["", "Recentste \U0001f44e met opmerking:"]
        for r in summary.recent_comments:
            lines.append(f"- {r.time[:16].replace('T', ' ')}  \u201c{r.question}\u201d")
            lines.append(f"  opmerking: {r.comment}")
            lines.append(f"  antwoord was: {_short(r.answer)}")
    return "\n".join(lines)


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def write_review(path: Path, items: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")


def run_feedback(
    settings: Settings, *, review: Path | None = None, out: IO[str] | None = None
) -> int:
    """``python -m qa feedback``: print the summary; with ``review``, write the review file."""
    import sys

    out = out or sys.stdout
    path = feedback_path(settings)
    records, bad = FeedbackLog(path).records()
    if not records and not bad:
        print(f"Nog geen feedback in {path}.", file=out)
    else:
        print(format_summary(summarize(records), path, bad_lines=bad), file=out)
    if review is not None:
        items = review_items(records)
        write_review(review, items)
        print(
            f'\n{len(items)} \U0001f44e naar {review}. Maak er eval-vragen van: vul "doc" en '
            '"any" (of "all") in, of zet "refuse": true; haal daarna "answer_was" en '
            '"comment" weg (zie eval/README.md).',
            file=out,
        )
    return 0


# --- the page's side ----------------------------------------------------------------------------


@dataclass
class Collector:
    """What the page does with a 👍/👎 and a comment, without gradio."""

    log: FeedbackLog
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now().astimezone())
    version: str = field(default_factory=app_version)

    def rate(
        self, turns: Sequence[Turn], position: int | None, liked: bool | str
    ) -> dict[str, Any] | None:
        """Record a 👍 (``liked`` True), 👎 (False) or a withdrawn thumb (anything else).
        Returns what a comment will refer to, or None when there is nothing to comment on."""
        if position is None:
            return None
        verdict = VERDICTS.get(liked) if isinstance(liked, bool) else None
        record = record_for(turns, position, verdict, now=self.clock(), version=self.version)
        if record is None:
            return None
        self.log.append(record)
        return {"id": record.id, "verdict": verdict} if verdict else None

    def comment(self, turns: Sequence[Turn], pending: dict[str, Any] | None, text: str) -> bool:
        """Add a comment to the thumb given last; False when there is none to add it to."""
        if not pending or not (text or "").strip():
            return False
        position = next((i for i, t in enumerate(turns) if t.id == pending.get("id")), None)
        if position is None:
            return False
        record = record_for(
            turns, position, pending.get("verdict"), text, now=self.clock(), version=self.version
        )
        if record is None:
            return False
        self.log.append(record)
        return True
