"""Follow-up questions: turn "En wat gaf Kim terug?" into a query that stands on its own.

Without an LLM, names and content words of the earlier questions that the new one lacks are
carried over when the new question looks like a follow-up (short, opens with "En"/"Ook"/"Waarom",
or points back with a pronoun). With an LLM, the model rewrites it (see ``qa.answer.generative``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.anchors import anchors
from qa.text import fold, stop_words, terms, words

_FOLLOW_UP_START = re.compile(
    r"^\s*(en|ook|maar|waarom|hoe dan|en dan|wat nog|wie nog|daarna|verder|nog)\b", re.I
)
_POINTS_BACK = re.compile(
    r"\b(hij|zij|ze|hem|haar|hun|hen|die|dat|deze|dit|daar|daarvan|daarover|daarna|ervan|"
    r"erover|diens|zijn|het land|de man|de vrouw|terug)\b",
    re.I,
)


def depends_on_history(question: str) -> bool:
    """Is the question only about what was said before? It points back ("die subsidie", "hij")
    and names nothing of its own ("Waarom viel Israël die stelling aan?" does)."""
    return bool(_POINTS_BACK.search(question)) and not anchors(question)


def split_carried(question: str, query: str) -> tuple[str, str]:
    """Undo ``rewrite_offline``: the question's own words and the words carried over."""
    if query.startswith(question) and query != question:
        return question, query[len(question) :].strip(" ()")
    return query, ""


def looks_like_follow_up(question: str) -> bool:
    return bool(
        _FOLLOW_UP_START.match(question)
        or _POINTS_BACK.search(question)
        or len(words(question)) <= 3
    )


def rewrite_offline(question: str, history: Sequence[str]) -> str:
    """The question, plus the names and key words of the last earlier question it depends on."""
    earlier = [h for h in history if h.strip()]
    if not earlier or not looks_like_follow_up(question):
        return question
    have = set(terms(question))
    stop = stop_words()
    carried: list[str] = []
    for previous in reversed(earlier[-2:]):
        for i, word in enumerate(words(previous)):
            folded = fold(word)
            if folded in stop or len(word) < 3:
                continue
            is_name = word[:1].isupper() and i > 0
            if not is_name and not any(c.isdigit() for c in word):
                continue
            stems = set(terms(word))
            if stems and not stems & have and word not in carried:
                carried.append(word)
                have |= stems
        if carried:
            break
    return question if not carried else f"{question.rstrip()} ({', '.join(carried)})"
