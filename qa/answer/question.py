"""The question, analysed once: what every step of the answer path needs to know about it.

``parse_question(text, history)`` does it all in one place, in order:

1. the language: a question in English is read with its question words put in Dutch, so that
   "How many people ...?" asks for a number like "Hoeveel mensen ...?" does (the articles are
   Dutch; the multilingual embeddings match the rest across languages);
2. the conversation: a follow-up gets the names of the earlier question it depends on
   (``qa.answer.followup``); ``own`` is what the question itself says, ``context`` what was
   carried over, ``query`` both together, for retrieval;
3. what it asks for: the answer type (``qa.answer.answer_types``), the asked noun, the person
   whose age or pay is asked, and the names and numbers it is about (``qa.answer.anchors``).

Later steps read these fields; none of them parses the question again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.answer.anchors import anchors
from qa.answer.answer_types import AnswerType, expected_type, focus_noun, property_holder
from qa.answer.followup import (
    depends_on_history,
    looks_like_follow_up,
    rewrite_offline,
    split_carried,
)
from qa.text import fold, terms, words

# English question openings and their Dutch equivalents, longest first (only for analysis: the
# question is still embedded as asked).
_ENGLISH_OPENINGS = [
    ("how many", "hoeveel"), ("how much", "hoeveel"), ("how old", "hoe oud"),
    ("how long", "hoe lang"), ("how often", "hoe vaak"), ("what time", "hoe laat"),
    ("in which year", "in welk jaar"), ("which year", "welk jaar"), ("what year", "welk jaar"),
    ("in what year", "in welk jaar"), ("what is the name", "wat is de naam"),
    ("what was the name", "wat was de naam"), ("who", "wie"), ("whom", "wie"),
    ("whose", "wiens"), ("when", "wanneer"), ("where", "waar"), ("why", "waarom"),
    ("which", "welke"), ("what", "wat"), ("how", "hoe"),
]  # fmt: skip
_ENGLISH_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "did",
        "does",
        "do",
        "is",
        "are",
        "was",
        "were",
        "what",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "which",
        "how",
        "many",
        "much",
        "has",
        "have",
        "had",
        "will",
        "would",
        "to",
        "for",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "about",
        "and",
        "or",
        "after",
        "before",
        "this",
        "that",
        "they",
        "he",
        "she",
        "it",
        "his",
        "her",
        "their",
    ]
)
_DUTCH_WORDS = frozenset(
    [
        "de",
        "het",
        "een",
        "van",
        "is",
        "zijn",
        "was",
        "waren",
        "wat",
        "wie",
        "wanneer",
        "waar",
        "waarom",
        "welke",
        "welk",
        "hoe",
        "hoeveel",
        "heeft",
        "hebben",
        "had",
        "die",
        "dat",
        "en",
        "in",
        "op",
        "aan",
        "voor",
        "met",
        "bij",
        "er",
        "hij",
        "zij",
        "ze",
    ]
)


@dataclass(frozen=True)
class Question:
    """One question, analysed. ``text`` is as asked; ``own`` its words in Dutch form."""

    text: str
    history: tuple[str, ...] = ()
    language: str = "nl"  # "nl" or "en"
    own: str = ""  # the question's own words (English question words in Dutch)
    context: str = ""  # names carried over from earlier questions of the conversation
    follow_up: bool = False  # it looks like a follow-up to the history
    points_back: bool = False  # it only makes sense about the conversation's article
    atype: AnswerType | None = None
    focus: str | None = None  # the asked noun: "Welke kunstenaar" -> "kunstenaar"
    holder: str | None = None  # whose age or pay is asked
    anchors: tuple[str, ...] = ()  # names and numbers the answer's article must mention
    terms: tuple[str, ...] = field(default=(), repr=False)  # search terms of ``own``

    @property
    def query(self) -> str:
        """The question as a standalone search query: its own words and the carried ones."""
        return f"{self.text} ({self.context})" if self.context else self.text

    @property
    def anchored(self) -> str:
        """The Dutch form with the carried names: what the answer's article should mention."""
        return f"{self.own} ({self.context})" if self.context else self.own


def parse_question(text: str, history: Sequence[str] = ()) -> Question:
    text = text.strip()
    history = tuple(h for h in history if h.strip())
    # 1. the language
    language = detect_language(text)
    own = to_dutch_form(text) if language == "en" else text
    # 2. the conversation: what is carried over from earlier questions
    query = rewrite_offline(text, history) if history else text
    _, context = split_carried(text, query)
    follow_up = bool(history) and looks_like_follow_up(text)
    # 3. what it asks for
    atype = expected_type(own)
    return Question(
        text=text,
        history=history,
        language=language,
        own=own,
        context=context,
        follow_up=follow_up,
        points_back=follow_up and depends_on_history(text),
        atype=atype,
        focus=focus_noun(own),
        holder=property_holder(own),
        anchors=tuple(anchors(own)),
        terms=tuple(terms(own)),
    )


def detect_language(text: str) -> str:
    """ "en" when the question reads as English (more English than Dutch function words)."""
    tokens = [fold(w) for w in words(text)]
    english = sum(t in _ENGLISH_WORDS for t in tokens)
    dutch = sum(t in _DUTCH_WORDS for t in tokens)
    return "en" if english >= 2 and english > dutch else "nl"


def to_dutch_form(text: str) -> str:
    """Put an English question's opening question words in Dutch ("How many ..." ->
    "Hoeveel ..."), so that the answer type is read from it. The rest stays as it is."""
    lowered = text.lower()
    for english, dutch in _ENGLISH_OPENINGS:
        if re.match(rf"{english}\b", lowered):
            return dutch.capitalize() + text[len(english) :]
    return text
