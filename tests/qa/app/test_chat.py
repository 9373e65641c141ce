"""The chat without a browser: the pure rendering of messages, and the handler called directly on
a pipeline with fake embeddings (the sample corpus)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.app.chat import (
    THINKING,
    ChatApp,
    ChatUpdate,
    chat_messages,
    render_cited_text,
    render_message,
    turn_of_message,
)
from qa.app.conversation import Turn, history, turns_from_json, turns_to_json
from qa.app.sources import EMPTY_SOURCES
from qa.index.retrieval import Filters
from qa.pipeline import Pipeline
from qa.settings import Settings
from tests.conftest import OverlapReader
from tests.qa.app.conftest import IMG, make_answer

NOS_TITLE = "Poetin haalt in Pyongyang banden aan met Noord-Korea"


# --- rendering ----------------------------------------------------------------------------------


def test_cited_markers_become_links_to_known_sources_only() -> None:
    out = render_cited_text(f"Een limousine {IMG} [1] en iets [7].", [1, 2], turn=3)
    assert '<a href="#bron-3-1" class="vb-cite">\\[1\\]</a>' in out
    assert "\\[7\\]" in out and "#bron-3-7" not in out
    assert "<img" not in out and "&lt;img" in out
    assert "limousine &lt;img" in out  # spaces around markers survive
    assert out.count("<a ") == 1


def test_a_message_says_what_was_searched_and_with_which_filters() -> None:
    answer = make_answer("Kunst. [1]", query="Wat gaf Kim terug aan Poetin?")
    out = render_message(answer, "En wat gaf Kim terug?", turn=2)
    assert "#bron-2-1" in out
    assert "Gezocht op: Wat gaf Kim terug aan Poetin?" in out
    same = make_answer("Kunst. [1]", query="En wat gaf Kim terug?")
    assert "Gezocht op" not in render_message(same, "En wat gaf Kim terug?", turn=2)
    filtered = render_message(same, "En wat gaf Kim terug?", 2, Filters(("NOS Nieuws",)))
    assert "Filters: Bron: NOS Nieuws" in filtered


def test_messages_and_turns_line_up() -> None:
    turns = [
        Turn("Eerste vraag?", make_answer()),
        Turn("Te lange vraag?", error="Die vraag is te lang."),
        Turn("Derde vraag?", make_answer()),
    ]
    messages = chat_messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[3]["content"] == "Die vraag is te lang."
    assert "#bron-3-1" in messages[5]["content"]  # anchors carry the turn's number
    assert [turn_of_message(turns, i) for i in range(7)] == [0, 0, 1, 1, 2, 2, None]
    assert turn_of_message(turns, [4, 0]) == 2  # gradio may give [index, ...]
    assert turn_of_message(turns, None) is None and turn_of_message(turns, -1) is None
    assert history(turns) == ["Eerste vraag?", "Derde vraag?"]  # errors are no history


# --- the handler --------------------------------------------------------------------------------


def _ask(
    app: ChatApp, question: str, turns: list[Turn] | None = None, **filters: Any
) -> list[ChatUpdate]:  # noqa: E501
    return list(app.respond(question, turns or [], **filters))


def test_chat_streams_then_ends_with_the_answer_and_its_sources(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    updates = _ask(app, "Wat gaf Poetin aan Kim?")
    assert updates[0].chat[-1]["content"] == THINKING
    assert updates[0].textbox == ""
    last = updates[-1]
    answer = last.chat[-1]["content"]
    assert last.chat[0] == {"role": "user", "content": "Wat gaf Poetin aan Kim?"}
    for word in ("limousine", "theeservies", "dolk"):
        assert word in answer
    assert '<a href="#bron-1-1"' in answer
    assert NOS_TITLE in last.sources
    assert "<mark>" in last.sources and "vb-zinnen" in last.sources
    assert [t.question for t in last.turns] == ["Wat gaf Poetin aan Kim?"]
    assert "Antwoord uit de artikelen (offline)" in last.status


def test_chat_streams_an_llm_answer_and_says_which_model_answered(
    sample_pipeline: Pipeline,
) -> None:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    text = "Poetin gaf Kim een limousine, een theeservies en een dolk [1]."
    llm = GenericFakeChatModel(messages=iter([AIMessage(text)]))
    settings = sample_pipeline.settings.replace(llm="fake:test")
    pipeline = Pipeline(
        settings,
        sample_pipeline.embeddings,
        sample_pipeline.store,
        llm=llm,
        reader=sample_pipeline.reader,
    )
    updates = _ask(ChatApp(pipeline), "Wat gaf Poetin aan Kim?")
    contents = [u.chat[-1]["content"] for u in updates]
    assert contents[0] == THINKING
    partial = [c for c in contents if c.startswith("Poetin gaf Kim") and "[1]" not in c]
    assert partial  # the text shows while it streams
    assert contents[-1].endswith('dolk <a href="#bron-1-1" class="vb-cite">\\[1\\]</a>.')
    assert "Antwoord van taalmodel fake:test" in updates[-1].status
    assert 'id="bron-1-1" open>' in updates[-1].sources


def test_follow_up_uses_the_earlier_questions(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    first = _ask(app, "Wat gaf Poetin aan Kim?")[-1]
    second = _ask(app, "En wat gaf Kim terug?", first.turns)[-1]
    assert "kunst" in second.chat[-1]["content"]
    assert len(second.chat) == 4
    assert "bron-2-1" in second.sources  # the second answer's own sources
    assert "bron-1-1" in app.show_sources(second.turns, 1)  # the first answer's, when clicked
    assert "bron-1-1" in app.show_sources(second.turns, 0)  # a question shows its answer's
    assert app.show_sources(second.turns, None) == second.sources


def test_new_chat_clears_everything(sample_pipeline: Pipeline) -> None:
    cleared = ChatApp(sample_pipeline).new_chat()
    assert (cleared.chat, cleared.turns) == ([], [])
    assert cleared.sources == EMPTY_SOURCES


@pytest.mark.parametrize(
    ("question", "expected"), [("", "het invoerveld is leeg"), ("   ", "het invoerveld is leeg"),
                               ("?" * 5, "geen woorden"), ("woord " * 1000, "te lang")],
)  # fmt: skip
def test_bad_questions_get_a_dutch_message(
    sample_pipeline: Pipeline, question: str, expected: str
) -> None:
    last = _ask(ChatApp(sample_pipeline), question)[-1]
    assert expected in last.chat[-1]["content"]
    assert history(last.turns) == []


def test_an_empty_question_is_not_kept_but_a_bad_one_is(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    assert _ask(app, "")[-1].turns == []
    kept = _ask(app, "?????")[-1].turns
    assert len(kept) == 1 and kept[0].error and not kept[0].answered


def test_empty_index_says_how_to_fill_it(settings: Settings, fake_embeddings, store) -> None:  # type: ignore[no-untyped-def]
    app = ChatApp(
        Pipeline(settings, fake_embeddings, store, reader=OverlapReader()), can_upload=True
    )
    message = _ask(app, "Wat gaf Poetin aan Kim?")[-1].chat[-1]["content"]
    assert "python -m ingest data/articles" in message
    assert "Artikelen toevoegen" in message
    assert "python -m ingest" in app.ask("Wat gaf Poetin aan Kim?")["error"]


def test_unexpected_errors_become_a_friendly_message(
    sample_pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Pipeline):
        def stream(self, question, history=(), filters=None) -> Iterator[Any]:  # type: ignore[no-untyped-def,override]
            raise RuntimeError("schijf vol")
            yield  # pragma: no cover

    app = ChatApp(
        Broken(sample_pipeline.settings, sample_pipeline.embeddings, sample_pipeline.store)
    )
    message = _ask(app, "Wat gaf Poetin aan Kim?")[-1].chat[-1]["content"]
    assert message.startswith("Er ging iets mis: schijf vol")
    assert "Traceback" not in message
    assert "schijf vol" in caplog.text  # logged for the maintainer
    assert app.ask("Wat gaf Poetin aan Kim?")["error"].startswith("Er ging iets mis")


# --- the conversation kept in the browser, and exported -----------------------------------------


def test_a_saved_conversation_comes_back_as_it_was(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    first = _ask(app, "Wat gaf Poetin aan Kim?", sources=["NOS Nieuws"])[-1]
    second = _ask(app, "En wat gaf Kim terug?", first.turns)[-1]
    saved = json.loads(json.dumps(app.save(second.turns)))  # what the browser stores
    restored = app.restore(saved)
    assert restored.chat == second.chat
    assert restored.sources == second.sources
    assert restored.turns[0].filters == Filters(("NOS Nieuws",))
    assert [t.id for t in restored.turns] == [t.id for t in second.turns]
    follow = _ask(app, "En wat gaf Kim terug?", restored.turns)[-1]  # history survives too
    assert "kunst" in follow.chat[-1]["content"]


@pytest.mark.parametrize(
    "saved", [None, "tekst", 42, [1, 2], [{"question": 3}], [{"question": "x", "answer": {}}]]
)
def test_a_damaged_saved_conversation_is_left_out(sample_pipeline: Pipeline, saved: Any) -> None:
    restored = ChatApp(sample_pipeline).restore(saved)
    assert restored.turns == [] and restored.chat == [] and restored.sources == EMPTY_SOURCES


def test_turns_round_trip_through_json() -> None:
    turns = [Turn("Vraag?", make_answer(searched=("Ander",)), filters=Filters((), "2024")),
             Turn("Fout?", error="Er ging iets mis.")]  # fmt: skip
    again = turns_from_json(json.loads(json.dumps(turns_to_json(turns))))
    assert again == turns


def test_export_writes_the_conversation_as_markdown(
    sample_pipeline: Pipeline, tmp_path: Path
) -> None:
    when = dt.datetime(2024, 6, 20, 9, 30)
    app = ChatApp(sample_pipeline, export_dir=tmp_path, clock=lambda: when)
    assert app.export([]) is None
    turns = _ask(app, "Wat gaf Poetin aan Kim?")[-1].turns
    path = app.export(turns)
    assert path is not None and path.name == "vraagbaak-gesprek-20240620-0930.md"
    text = path.read_text(encoding="utf-8")
    assert "## Vraag 1: Wat gaf Poetin aan Kim?" in text and NOS_TITLE in text
    assert app.export(turns) == path  # the same conversation: the same file


# --- the API function -----------------------------------------------------------------------------


def test_ask_returns_the_cli_json(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    result = app.ask("Wat gaf Poetin aan Kim?")
    assert result == sample_pipeline.ask("Wat gaf Poetin aan Kim?").to_json()
    follow = app.ask("En wat gaf Kim terug?", ["Wat gaf Poetin aan Kim?"])
    assert "kunst" in follow["answer"]
    assert app.ask("") == {"error": "Stel een vraag; het invoerveld is leeg."}
    assert "answer" in app.ask("Wat gaf Poetin aan Kim?", "niet een lijst")
