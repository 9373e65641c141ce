"""👍/👎 feedback: records written whole, read back as they stand, summarised, and the 👎 turned
into a review file in the eval format; ``python -m qa feedback`` as a user runs it."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from pathlib import Path

import pytest

from qa.app.conversation import Turn
from qa.app.feedback import (
    Collector,
    FeedbackLog,
    FeedbackRecord,
    app_version,
    current,
    feedback_path,
    format_summary,
    record_for,
    review_items,
    run_feedback,
    summarize,
)
from qa.settings import Settings
from tests.qa.app.conftest import make_answer, make_source

NOW = dt.datetime(2024, 6, 20, 9, 30, tzinfo=dt.UTC)


def _turns() -> list[Turn]:
    two = make_answer("Tweede zin. [1] Andere zin. [2]", make_source(1), make_source(2),
                      cited=(1, 2))  # fmt: skip
    return [
        Turn("Wat gaf Poetin aan Kim?", make_answer(), id="t1"),
        Turn("Te lang", error="Die vraag is te lang.", id="t2"),
        Turn("En wat gaf Kim terug?", two, id="t3"),
    ]


def _record(
    id_: str, verdict: str | None, comment: str = "", time: str = "2024-06-20T09:30:00"
) -> FeedbackRecord:  # noqa: E501
    return FeedbackRecord(id_, time, verdict, f"Vraag {id_}?", f"Antwoord {id_}.", comment=comment)


def test_a_record_holds_what_a_reviewer_needs() -> None:
    record = record_for(_turns(), 2, "down", "  mist de dolk ", now=NOW, version="1.2.3")
    assert record is not None
    assert record.to_json() == {
        "id": "t3", "time": "2024-06-20T09:30:00+00:00", "verdict": "down",
        "comment": "mist de dolk", "question": "En wat gaf Kim terug?",
        "history": ["Wat gaf Poetin aan Kim?"], "answer": "Tweede zin. [1] Andere zin. [2]",
        "cited": ["a1.txt", "a2.txt"], "version": "1.2.3", "mode": "offline",
    }  # fmt: skip
    assert FeedbackRecord.from_json(record.to_json()) == record
    assert record_for(_turns(), 1, "up", now=NOW, version="x") is None  # an error, no answer
    assert record_for(_turns(), 7, "up", now=NOW, version="x") is None


def test_the_log_appends_whole_lines_and_reads_past_damage(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "index" / "feedback.jsonl")
    assert log.records() == ([], 0)
    log.append(_record("a", "up"))
    with log.path.open("a", encoding="utf-8") as f:
        f.write('{"id": "kapot", "verdict": "misschien"}\n{"id": "afgebr')  # a crash mid-line
    log.append(_record("b", "down"))
    records, bad = log.records()
    assert [r.id for r in records] == ["a", "b"] and bad == 2
    assert log.path.read_text(encoding="utf-8").count("\n") == 4  # b started on its own line


def test_many_writers_at_once_never_mix_lines(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    comment = "lang " * 2000  # larger than one pipe buffer

    def write(n: int) -> None:
        log = FeedbackLog(path)  # each thread its own log, as each page its own handler
        for i in range(20):
            log.append(_record(f"{n}-{i}", "down", comment))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 160
    assert all(json.loads(line)["comment"] == comment for line in lines)
    assert FeedbackLog(path).records()[1] == 0


def test_the_last_word_on_an_answer_counts() -> None:
    records = [
        _record("a", "up"),
        _record("b", "down"),
        _record("a", "down", "toch niet goed"),  # changed its mind, and said why
        _record("c", "up"),
        _record("c", None),  # took the thumb back
    ]
    assert [(r.id, r.verdict, r.comment) for r in current(records)] == [
        ("a", "down", "toch niet goed"), ("b", "down", ""),
    ]  # fmt: skip


def test_summary_and_review_file() -> None:
    records = [
        _record("a", "up"),
        _record("b", "down", "mist de dolk", time="2024-06-20T09:00:00"),
        _record("c", "down", "verkeerd artikel", time="2024-06-21T10:00:00"),
        _record("d", "down"),
    ]
    summary = summarize(records)
    assert (summary.up, summary.down) == (1, 3)
    assert [r.id for r in summary.recent_comments] == ["c", "b"]  # newest first, with a comment
    text = format_summary(summary, Path("idx/feedback.jsonl"))
    assert text.startswith(
        "Feedback in idx/feedback.jsonl: 4 beoordelingen, 1 \U0001f44d, 3 \U0001f44e."
    )
    assert "2024-06-21 10:00  \u201cVraag c?\u201d\n  opmerking: verkeerd artikel" in text
    items = review_items(records)
    assert [i["q"] for i in items] == ["Vraag b?", "Vraag c?", "Vraag d?"]
    assert items[0] == {"q": "Vraag b?", "history": [], "doc": None, "any": [],
                        "answer_was": "Antwoord b.", "comment": "mist de dolk"}  # fmt: skip


def test_the_page_side_records_a_thumb_then_its_comment(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    collector = Collector(log, clock=lambda: NOW, version="9.9")
    turns = _turns()
    assert collector.rate(turns, 1, False) is None  # an error message: nothing to rate
    pending = collector.rate(turns, 2, False)
    assert pending == {"id": "t3", "verdict": "down"}
    assert collector.comment(turns, pending, "De dolk ontbreekt.")
    assert not collector.comment(turns, None, "los commentaar")
    assert not collector.comment(turns, pending, "   ")
    assert collector.rate(turns, 0, True) == {"id": "t1", "verdict": "up"}
    assert collector.rate(turns, 0, "") is None  # the 👍 taken back
    records, _ = log.records()
    assert len(records) == 4
    assert [(r.id, r.verdict, r.comment) for r in current(records)] == [
        ("t3", "down", "De dolk ontbreekt.")
    ]


def test_app_version_comes_from_the_package() -> None:
    from importlib.metadata import version

    assert app_version() == version("vraagbaak")


def test_feedback_command_summarises_and_writes_the_review_file(tmp_path: Path) -> None:
    from qa.cli import main

    index = tmp_path / "index"
    out = io.StringIO()
    assert run_feedback(Settings(index_dir=index), out=out) == 0
    assert "Nog geen feedback" in out.getvalue()
    log = FeedbackLog(feedback_path(Settings(index_dir=index)))
    log.append(_record("a", "up"))
    log.append(_record("b", "down", "mist de dolk"))
    review = tmp_path / "review.jsonl"
    assert main(["feedback", "--index", str(index), "--review", str(review)]) == 0
    lines = [json.loads(line) for line in review.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"q": "Vraag b?", "history": [], "doc": None, "any": [],
                      "answer_was": "Antwoord b.", "comment": "mist de dolk"}]  # fmt: skip


def test_feedback_command_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.cli import main

    FeedbackLog(tmp_path / "feedback.jsonl").append(_record("b", "down", "mist de dolk"))
    assert main(["feedback", "--index", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 beoordeling, 0 \U0001f44d, 1 \U0001f44e" in out and "mist de dolk" in out
