"""The chat: asking, streaming the answer into its bubble, follow-ups, the sources panel of the
answer a reader clicks, a fresh conversation, and the same answers as the ``/ask`` API.

``ChatApp`` holds the behaviour without gradio; ``qa.app.layout`` wires its methods to the page.
The conversation is a list of ``Turn``s (``qa.app.conversation``): every handler takes the turns
and returns new ones, and the chat's messages are rendered from them by pure functions.
"""

# No ``from __future__ import annotations``: the layout hands these methods' signatures to gradio.

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from qa.app.conversation import (
    MAX_HISTORY,
    Turn,
    history,
    turns_from_json,
    turns_to_json,
)
from qa.app.export import write_export
from qa.app.filters import describe, explain_empty, make_filters
from qa.app.render import defuse, error_message, escape_text, render_status, unindent
from qa.app.sources import EMPTY_SOURCES, render_sources, source_anchor
from qa.errors import VraagbaakError
from qa.index.retrieval import NO_FILTERS, Filters
from qa.types import Answer

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

log = logging.getLogger(__name__)

THINKING = "<em>Ik zoek in de artikelen\u2026</em>"
_MARKER = re.compile(r"\[(\d{1,3})\]")

ChatMessage = dict[str, Any]


# --- pure rendering of the chat's messages ------------------------------------------------------


def render_cited_text(text: str, sources: Sequence[int], turn: int) -> str:
    """Answer text for the chat, escaped, with each ``[n]`` of a known source a link to it."""
    known = set(sources)
    text = unindent(text)
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        out.append(defuse(text[pos : m.start()]))
        n = int(m[1])
        if n in known:
            out.append(f'<a href="#{source_anchor(turn, n)}" class="vb-cite">\\[{n}\\]</a>')
        else:
            out.append(defuse(m[0]))
        pos = m.end()
    out.append(defuse(text[pos:]))
    return "".join(out)


def render_message(answer: Answer, question: str, turn: int, filters: Filters = NO_FILTERS) -> str:
    """The chat bubble of an answer: the text with its markers linked, what was searched when a
    follow-up was rewritten, and the filters it was asked with."""
    body = render_cited_text(answer.answer, [s.n for s in answer.sources], turn)
    notes = []
    if answer.query.strip().lower() != question.strip().lower():
        notes.append(f"Gezocht op: {escape_text(answer.query)}")
    if filters != NO_FILTERS:
        notes.append(f"Filters: {escape_text(describe(filters))}")
    return body + "".join(f"\n\n<small>{note}</small>" for note in notes)


def render_user(question: str) -> str:
    return escape_text(question)


def chat_messages(turns: Sequence[Turn]) -> list[ChatMessage]:
    """The chatbot's messages for a conversation: each question, then its answer or error."""
    messages: list[ChatMessage] = []
    for number, turn in enumerate(turns, start=1):
        if turn.question.strip():
            messages.append({"role": "user", "content": render_user(turn.question)})
        if turn.answer is not None:
            content = render_message(turn.answer, turn.question, number, turn.filters)
        else:
            content = escape_text(turn.error or "")
        messages.append({"role": "assistant", "content": content})
    return messages


def turn_of_message(turns: Sequence[Turn], index: Any) -> int | None:
    """Which turn (its position in ``turns``) the chat message at ``index`` belongs to."""
    if isinstance(index, (list, tuple)):
        index = index[0] if index else None
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    position = 0
    for i, turn in enumerate(turns):
        position += 2 if turn.question.strip() else 1
        if index < position:
            return i
    return None


def sources_panel(turns: Sequence[Turn], position: int | None = None) -> str:
    """The sources panel of the turn at ``position`` (default: the last answered turn)."""
    if position is None or not 0 <= position < len(turns) or turns[position].answer is None:
        answered = [i for i, t in enumerate(turns) if t.answer is not None]
        if not answered:
            return EMPTY_SOURCES
        position = answered[-1]
    answer = turns[position].answer
    assert answer is not None
    return render_sources(answer, position + 1)


# --- the handlers -------------------------------------------------------------------------------


class ChatUpdate(NamedTuple):
    """What one step of the chat handler shows; the order of the chat event's outputs."""

    textbox: str
    chat: list[ChatMessage]
    turns: list[Turn]
    sources: str
    status: str


class ChatApp:
    """The chat's behaviour, without gradio."""

    def __init__(
        self, pipeline: "Pipeline", *, can_upload: bool = False,
        export_dir: Path | None = None,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.can_upload = can_upload
        self.export_dir = export_dir
        self.clock = clock

    @property
    def initial_status(self) -> str:
        return render_status(self.pipeline.mode)

    def respond(
        self, message: str, turns: Sequence[Turn] | None,
        sources: Sequence[str] | None = None, date_from: str | None = None,
        date_to: str | None = None,
    ) -> Iterator[ChatUpdate]:  # fmt: skip
        """Answer one question: the bubble first shows that it is searching, then the streamed
        text, then the final, checked answer; the sources panel follows the answer."""
        turns = list(turns or [])
        question = (message or "").strip()
        shown = chat_messages(turns)
        if question:
            shown.append({"role": "user", "content": render_user(question)})
        shown.append({"role": "assistant", "content": THINKING})
        panel = sources_panel(turns)
        yield ChatUpdate("", list(shown), turns, panel, self.initial_status)

        final: Answer | None = None
        parts: list[str] = []
        filters = NO_FILTERS
        try:
            filters = make_filters(sources, date_from, date_to)
            for event in self.pipeline.stream(question, history(turns), filters):
                if isinstance(event, Answer):
                    final = event
                    continue
                parts.append(event)
                shown[-1] = {"role": "assistant", "content": escape_text("".join(parts))}
                yield ChatUpdate("", list(shown), turns, panel, self.initial_status)
        except Exception as err:  # noqa: BLE001 - every failure becomes a Dutch message
            if not isinstance(err, VraagbaakError):
                log.exception("the chat failed on %r", question)
            text = error_message(err, can_upload=self.can_upload)
            if question:  # kept in the conversation; an empty question is not
                turns.append(Turn(question, error=text, filters=filters))
                shown = chat_messages(turns)
            else:
                shown[-1] = {"role": "assistant", "content": escape_text(text)}
            yield ChatUpdate("", shown, turns, panel, self.initial_status)
            return
        if final is None:  # the pipeline always ends with an Answer; be safe anyway
            return
        final = explain_empty(final, filters)
        turns.append(Turn(question, final, filters=filters))
        status = render_status(final.mode, final.warnings)
        yield ChatUpdate("", chat_messages(turns), turns, sources_panel(turns), status)

    def new_chat(self) -> ChatUpdate:
        """Nieuw gesprek: an empty chat, no earlier questions, no sources."""
        return ChatUpdate("", [], [], EMPTY_SOURCES, self.initial_status)

    def show_sources(self, turns: Sequence[Turn] | None, index: Any) -> str:
        """The sources of the answer that was clicked (or of the answer to a clicked question)."""
        turns = list(turns or [])
        return sources_panel(turns, turn_of_message(turns, index))

    def restore(self, saved: Any) -> ChatUpdate:
        """The conversation the browser kept (``save``'s output), as the page shows it."""
        turns = turns_from_json(saved)
        panel = sources_panel(turns)
        return ChatUpdate("", chat_messages(turns), turns, panel, self.initial_status)

    @staticmethod
    def save(turns: Sequence[Turn] | None) -> list[dict[str, Any]]:
        """What the browser keeps of the conversation."""
        return turns_to_json(list(turns or []))

    def export(self, turns: Sequence[Turn] | None) -> Path | None:
        """The conversation as a Markdown file for the download button; None when empty."""
        turns = list(turns or [])
        if not turns or self.export_dir is None:
            return None
        return write_export(turns, now=self.clock(), folder=self.export_dir)

    # the API

    def ask(
        self, question: Any, history: Any = None, sources: Any = None,
        date_from: Any = None, date_to: Any = None,
    ) -> dict[str, Any]:  # fmt: skip
        """``Answer.to_json()``, or ``{"error": "<Dutch message>"}``. Anything may come in."""
        if isinstance(history, str):
            history = [history]
        if not isinstance(history, (list, tuple)):
            history = []
        earlier = [h for h in history if isinstance(h, str) and h.strip()]
        try:
            filters = make_filters(sources, date_from, date_to)
            answer = self.pipeline.ask(
                question if isinstance(question, str) else "", earlier[-MAX_HISTORY:], filters
            )
            return explain_empty(answer, filters).to_json()
        except Exception as err:  # noqa: BLE001 - errors are answers too
            if not isinstance(err, VraagbaakError):
                log.exception("the API failed on %r", question)
            return {"error": error_message(err)}
