"""A conversation as data: the turns (question, answer or error, filters) that the chat shows,
the export writes, feedback refers to, and the browser keeps across a reload.

The chat's messages and the sources panels are rendered from these turns, never the other way
round, so a conversation restored from the browser looks exactly as it did. What the browser
sends back is not trusted: ``turns_from_json`` drops anything that does not read as a turn, and
everything shown is escaped anyway.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qa.app import filters as filter_codec
from qa.index.retrieval import NO_FILTERS, Filters
from qa.types import Answer, Source

MAX_HISTORY = 10  # earlier questions passed on for follow-ups
MAX_SAVED_TURNS = 50  # what the browser keeps (each turn carries its sources' article text)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Turn:
    """One question and what came back: an answer, or a Dutch error message."""

    question: str
    answer: Answer | None = None
    error: str | None = None
    filters: Filters = NO_FILTERS
    id: str = field(default_factory=new_id)

    @property
    def answered(self) -> bool:
        return self.answer is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer.to_json() if self.answer is not None else None,
            "error": self.error,
            "filters": filter_codec.to_json(self.filters),
        }


def history(turns: Sequence[Turn]) -> list[str]:
    """The earlier questions that were answered: what a follow-up builds on."""
    return [t.question for t in turns if t.answered][-MAX_HISTORY:]


def turns_to_json(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    return [t.to_json() for t in turns[-MAX_SAVED_TURNS:]]


def turns_from_json(data: Any) -> list[Turn]:
    """Turns saved by ``turns_to_json``; anything unreadable is left out."""
    if not isinstance(data, list):
        return []
    turns = []
    for item in data[-MAX_SAVED_TURNS:]:
        try:
            turns.append(_turn_from_json(item))
        except (TypeError, ValueError, KeyError, AttributeError):
            continue
    return turns


def _turn_from_json(item: Any) -> Turn:
    if not isinstance(item, dict) or not isinstance(item.get("question"), str):
        raise ValueError("not a turn")
    answer = answer_from_json(item["answer"]) if item.get("answer") is not None else None
    error = item.get("error")
    if answer is None and not isinstance(error, str):
        raise ValueError("a turn without an answer needs its error message")
    return Turn(
        question=item["question"],
        answer=answer,
        error=error if isinstance(error, str) else None,
        filters=filter_codec.from_json(item.get("filters")),
        id=str(item.get("id") or new_id()),
    )


def answer_from_json(data: dict[str, Any]) -> Answer:
    """The inverse of ``Answer.to_json()`` (what is not in the JSON keeps its default)."""
    return Answer(
        answer=str(data["answer"]),
        refused=bool(data["refused"]),
        query=str(data["query"]),
        sources=tuple(source_from_json(s) for s in data.get("sources") or []),
        cited=tuple(int(n) for n in data.get("cited") or []),
        warnings=tuple(str(w) for w in data.get("warnings") or []),
        mode=str(data.get("mode") or "offline"),
        searched=tuple(str(t) for t in data.get("searched") or []),
    )


def source_from_json(data: dict[str, Any]) -> Source:
    highlights = tuple((int(s), int(e)) for s, e in data.get("highlights") or [])
    if not highlights and data.get("highlight"):
        start, end = data["highlight"]
        highlights = ((int(start), int(end)),)
    return Source(
        n=int(data["n"]),
        article_id=str(data["article_id"]),
        title=str(data.get("title") or ""),
        text=str(data.get("text") or ""),
        highlights=highlights,
        date=_opt(data.get("date")),
        source=_opt(data.get("source")),
        url=_opt(data.get("url")),
    )


def _opt(value: Any) -> str | None:
    return str(value) if value is not None else None
