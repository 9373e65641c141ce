"""The chat app without a browser: the pure formatting functions, the handlers called directly on
a pipeline with fake embeddings, and the built demo's API as gradio_client sees it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa.errors import IndexEmptyError, InvalidQuestionError
from qa.pipeline import Pipeline
from qa.settings import Settings
from qa.types import Answer, Source
from qa.ui import (
    EMPTY_SOURCES,
    EXAMPLES,
    THINKING,
    UPLOAD_TYPES,
    ChatApp,
    build_demo,
    ensure_sample_index,
    error_message,
    escape_text,
    format_date,
    highlight_passage,
    launch_options,
    mode_label,
    render_cited_text,
    render_message,
    render_source,
    render_sources,
    render_status,
    safe_upload_name,
    safe_url,
)

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"

BRIDGE = """De Zonnebrug in Voorbeeldstad is open

Testartikel. De nieuwe Zonnebrug in Voorbeeldstad werd op dinsdag geopend door burgemeester \
Fictief. De brug is 240 meter lang en kostte twaalf miljoen euro. Fietsers mogen er gratis over.
"""


def _source(n: int = 1, **changes: Any) -> Source:
    values: dict[str, Any] = {
        "n": n,
        "article_id": f"a{n}.txt",
        "title": f"Titel {n}",
        "text": "Eerste zin. Tweede zin. Derde zin.",
        "highlight": (12, 23),
        "date": "2024-06-19",
        "source": "NOS Nieuws",
        "url": "https://nos.nl/artikel/1",
    }
    values.update(changes)
    return Source(**values)


# --- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [IMG, SCRIPT, "<b onmouseover=alert(1)>x</b>"])
def test_escape_text_shows_html_as_text(payload: str) -> None:
    out = escape_text(f"Voor {payload} na")
    assert "<" not in out
    assert "&lt;" in out


def test_escape_text_defuses_markdown() -> None:
    out = escape_text("**vet** en [link](javascript:alert(1))\n# kop\n    ingesprongen\n1. lijst")
    assert "\\*\\*vet\\*\\*" in out
    assert "\\[link\\]" in out
    assert "\\# kop" in out
    assert "\ningesprongen" in out  # no code block
    assert "1\\. lijst" in out


def test_cited_markers_become_links_to_known_sources_only() -> None:
    out = render_cited_text(f"Een limousine {IMG} [1] en iets [7].", [1, 2], turn=3)
    assert '<a href="#bron-3-1" class="vb-cite">\\[1\\]</a>' in out
    assert "\\[7\\]" in out and "#bron-3-7" not in out
    assert "<img" not in out and "&lt;img" in out
    assert "limousine &lt;img" in out  # spaces around markers survive
    assert out.count("<a ") == 1


def test_render_message_shows_the_rewritten_query_of_a_follow_up() -> None:
    answer = Answer("Kunst. [1]", False, "Wat gaf Kim terug aan Poetin?", (_source(),), (1,))
    out = render_message(answer, "En wat gaf Kim terug?", turn=2)
    assert "#bron-2-1" in out
    assert "Gezocht op: Wat gaf Kim terug aan Poetin?" in out
    same = Answer("Kunst. [1]", False, "En wat gaf Kim terug?", (_source(),), (1,))
    assert "Gezocht op" not in render_message(same, "En wat gaf Kim terug?", turn=2)


def test_highlight_marks_the_span_and_escapes_all_parts() -> None:
    text = f"Eerste zin. Tweede {SCRIPT} zin. {IMG} Derde."
    start = text.index("Tweede")
    end = text.index("zin.", start) + 4
    out = highlight_passage(text, (start, end))
    assert out.startswith("Eerste zin. <mark>Tweede &lt;script&gt;")
    assert "</mark> &lt;img src=x" in out
    assert "<script" not in out and "<img" not in out


@pytest.mark.parametrize("span", [None, (5, 5), (-1, 3), (3, 999), (9, 2)])
def test_highlight_ignores_missing_or_bad_spans(span: tuple[int, int] | None) -> None:
    assert highlight_passage("Een <b> zin.", span) == "Een &lt;b&gt; zin."


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://nos.nl/artikel/1", True),
        ("http://example.org/a?b=1&c=2", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
        ("ftp://example.org/a", False),
        ("https://exa mple.org", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url_allows_only_http_links(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


def test_render_source_escapes_everything_and_links_only_http() -> None:
    evil = _source(title=f"Titel {SCRIPT}", source=IMG, url='https://x.nl/"><script>')
    out = render_source(evil, 1, cited=True)
    assert "<script" not in out and "<img" not in out
    assert 'href="https://x.nl/&quot;&gt;&lt;script&gt;"' in out
    assert 'id="bron-1-1" open>' in out
    assert "<mark>Tweede zin.</mark>" in out
    assert "19 juni 2024" in out
    no_link = render_source(_source(url="javascript:alert(1)"), 1, cited=False)
    assert "href" not in no_link and "javascript" not in no_link
    assert " open>" not in no_link


def test_render_sources_lists_cited_first_then_the_others() -> None:
    answer = Answer("x [2]", False, "q", (_source(1), _source(2), _source(3)), (2,))
    out = render_sources(answer, 1)
    assert out.index("bron-1-2") < out.index("Ook gevonden") < out.index("bron-1-1")
    assert out.count(" open>") == 1
    refused = Answer("Dat staat niet in de artikelen.", True, "q", (_source(1),), ())
    assert "dichtst bij" in render_sources(refused, 1)
    assert "Geen artikelen gevonden" in render_sources(Answer("x", True, "q"), 1)


@pytest.mark.parametrize(
    ("date", "shown"),
    [
        ("2024-06-19", "19 juni 2024"),
        ("2024-06", "juni 2024"),
        ("2024", "2024"),
        ("2024-13", "2024-13"),
        ("gisteren", "gisteren"),
        (None, ""),
    ],
)
def test_format_date_in_dutch(date: str | None, shown: str) -> None:
    assert format_date(date) == shown


def test_mode_label_and_status() -> None:
    assert mode_label("offline") == "Antwoord uit de artikelen (offline)"
    assert mode_label("openai:gpt-4o-mini") == "Antwoord van taalmodel openai:gpt-4o-mini"
    status = render_status("offline", ["Let op: <b>x</b>"])
    assert "Antwoord uit de artikelen (offline)" in status and "&lt;b&gt;" in status


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("artikel.txt", "artikel.txt"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\x.md", "x.md"),
        (".verborgen.txt", "verborgen.txt"),
        ("..", "upload"),
        ("", "upload"),
        ("a<b>|c.txt", "a_b_c.txt"),
        ("Oekraïne nieuws.html", "Oekraïne nieuws.html"),
        ("x" * 300 + ".jsonl", "x" * 114 + ".jsonl"),
    ],
)
def test_safe_upload_name_keeps_only_a_harmless_base_name(name: str, safe: str) -> None:
    assert safe_upload_name(name) == safe


def test_upload_types_match_what_the_ingester_reads() -> None:
    from ingest.readers import SUFFIXES

    assert set(UPLOAD_TYPES) == SUFFIXES


def test_launch_options() -> None:
    assert "auth" not in launch_options(Settings())
    options = launch_options(Settings(auth="redactie:geheim:met:dubbele punten"))
    assert options["auth"] == ("redactie", "geheim:met:dubbele punten")
    assert options["max_file_size"] == "20mb"
    with pytest.raises(ValueError, match="gebruiker:wachtwoord"):
        launch_options(Settings(auth="alleen-een-naam"))


def test_error_messages_are_dutch_and_say_what_to_do() -> None:
    empty = error_message(IndexEmptyError("De index is leeg."), can_upload=True)
    assert "Artikelen toevoegen" in empty
    assert error_message(InvalidQuestionError("Stel een vraag.")) == "Stel een vraag."
    assert error_message(RuntimeError("kapot")).startswith("Er ging iets mis: kapot.")


# --- the chat handler ---------------------------------------------------------------------------


def _ask(app: ChatApp, question: str, questions: list[str] | None = None, panels=None):  # type: ignore[no-untyped-def]
    return list(app.respond(question, [], questions or [], panels or {}))


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
    assert "Poetin haalt in Pyongyang banden aan met Noord-Korea" in last.sources
    assert "<mark>" in last.sources
    assert last.questions == ["Wat gaf Poetin aan Kim?"]
    assert "Antwoord uit de artikelen (offline)" in last.status


def test_chat_streams_an_llm_answer_and_says_which_model_answered(
    sample_pipeline: Pipeline,
) -> None:
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    text = "Poetin gaf Kim een limousine, een theeservies en een dolk [1]."
    llm = GenericFakeChatModel(messages=iter([AIMessage(text)]))
    settings = sample_pipeline.settings.replace(llm="fake:test")
    pipeline = Pipeline(settings, sample_pipeline.embeddings, sample_pipeline.store, llm=llm)
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
    second = list(app.respond("En wat gaf Kim terug?", first.chat, first.questions, first.panels))[
        -1
    ]
    assert "kunst" in second.chat[-1]["content"]
    assert len(second.chat) == 4
    assert "bron-2-1" in second.sources  # the second answer's own sources
    assert app.show_sources(second.panels, 1) == first.panels[1]
    assert app.show_sources(second.panels, 0) == first.panels[1]  # a question shows its answer's
    assert app.show_sources(second.panels, None) == second.sources


def test_new_chat_clears_everything(sample_pipeline: Pipeline) -> None:
    cleared = ChatApp(sample_pipeline).new_chat()
    assert (cleared.chat, cleared.questions, cleared.panels) == ([], [], {})
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
    assert last.questions == []


def test_empty_index_says_how_to_fill_it(settings: Settings, fake_embeddings, store) -> None:  # type: ignore[no-untyped-def]
    from ingest.pipeline import ingest_paths

    app = ChatApp(Pipeline(settings, fake_embeddings, store), ingest_files=ingest_paths)
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


# --- the API function -----------------------------------------------------------------------------


def test_ask_returns_the_cli_json(sample_pipeline: Pipeline) -> None:
    app = ChatApp(sample_pipeline)
    result = app.ask("Wat gaf Poetin aan Kim?")
    assert result == sample_pipeline.ask("Wat gaf Poetin aan Kim?").to_json()
    follow = app.ask("En wat gaf Kim terug?", ["Wat gaf Poetin aan Kim?"])
    assert "kunst" in follow["answer"]
    assert app.ask("") == {"error": "Stel een vraag; het invoerveld is leeg."}
    assert "answer" in app.ask("Wat gaf Poetin aan Kim?", "niet een lijst")  # type: ignore[arg-type]


# --- uploads ------------------------------------------------------------------------------------


@pytest.fixture
def upload_app(sample_pipeline: Pipeline) -> ChatApp:
    from ingest.pipeline import ingest_paths

    return ChatApp(sample_pipeline, ingest_files=ingest_paths)


def test_uploaded_article_can_be_asked_about_at_once(upload_app: ChatApp, tmp_path: Path) -> None:
    path = tmp_path / "upload" / "zonnebrug.txt"
    path.parent.mkdir()
    path.write_text(BRIDGE, encoding="utf-8")
    calls: list[tuple[float, str]] = []
    report = upload_app.add_files([str(path)], lambda f, desc="": calls.append((f, desc)))
    assert "1 artikel toegevoegd" in report and "zonnebrug.txt" in report
    assert calls and calls[-1] == (1.0, "1 van 1 artikelen verwerkt")
    answer = upload_app.ask("Wie opende de Zonnebrug in Voorbeeldstad?")
    assert "burgemeester Fictief" in answer["answer"]
    assert answer["sources"][0]["article_id"] == "zonnebrug.txt"
    assert (upload_app.upload_dir / "zonnebrug.txt").exists()  # kept beside the index
    again = upload_app.add_files([str(path)])
    assert "ongewijzigd" in again


def test_upload_rejects_too_many_files(sample_pipeline: Pipeline, tmp_path: Path) -> None:
    from ingest.pipeline import ingest_paths

    app = ChatApp(
        sample_pipeline, ingest_files=ingest_paths,
        settings=sample_pipeline.settings.replace(max_upload_files=2),
    )  # fmt: skip
    files = []
    for i in range(3):
        files.append(tmp_path / f"a{i}.txt")
        files[-1].write_text(BRIDGE)
    report = app.add_files([str(f) for f in files])
    assert "Te veel bestanden tegelijk (3); het maximum is 2" in report
    assert not app.upload_dir.exists()


def test_upload_rejects_too_many_megabytes(sample_pipeline: Pipeline, tmp_path: Path) -> None:
    from ingest.pipeline import ingest_paths

    app = ChatApp(
        sample_pipeline, ingest_files=ingest_paths,
        settings=sample_pipeline.settings.replace(max_upload_mb=0.001),
    )  # fmt: skip
    big = tmp_path / "groot.txt"
    big.write_text("Een zin. " * 500)
    assert "te groot" in app.add_files([str(big)])


def test_skipped_files_are_listed_with_their_reasons(upload_app: ChatApp, tmp_path: Path) -> None:
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF-1.4 binary")
    empty = tmp_path / "leeg.txt"
    empty.write_text("")
    evil = tmp_path / f"x{IMG.replace('/', '')}.txt"
    evil.write_bytes(b"\x00\x01\x02 binair")
    report = upload_app.add_files([str(pdf), str(empty), str(evil)])
    assert "Overgeslagen" in report and "Geen artikelen toegevoegd" in report
    assert "scan.pdf</code>: bestandstype .pdf wordt niet gelezen" in report
    assert "leeg.txt</code>: leeg bestand" in report
    assert "binair bestand" in report
    assert "<img" not in report
    assert str(tmp_path) not in report and str(upload_app.upload_dir) not in report


def test_upload_needs_files_and_an_ingester(sample_pipeline: Pipeline, upload_app: ChatApp) -> None:
    assert "Kies eerst" in upload_app.add_files([])
    assert "staat uit" in ChatApp(sample_pipeline).add_files(["/etc/hostname"])


def test_ensure_sample_index_fills_only_an_empty_index(
    settings: Settings, fake_embeddings, store
) -> None:  # type: ignore[no-untyped-def]
    from ingest.pipeline import ingest_paths

    pipeline = Pipeline(settings, fake_embeddings, store)
    report = ensure_sample_index(pipeline, ingest_paths)
    assert report is not None and report.added > 50
    assert ensure_sample_index(pipeline, ingest_paths) is None
    assert "limousine" in pipeline.ask("Wat gaf Poetin aan Kim?").answer


# --- the built page -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_built_demo_documents_only_ask(sample_pipeline: Pipeline) -> None:
    from gradio_client import Client

    from ingest.pipeline import ingest_paths

    demo = build_demo(sample_pipeline, ingest_files=ingest_paths)
    assert demo.title == "Vraagbaak"
    config = str(demo.config)
    shown = ["Verstuur", "Nieuw gesprek", "Bronnen", "Artikelen toevoegen", *EXAMPLES]
    shown += ["Stel een vraag over de artikelen…", "Antwoord uit de artikelen (offline)"]
    for text in shown:
        assert text in config
    port = _free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        endpoints = client.view_api(print_info=False, return_format="dict")
        assert list(endpoints["named_endpoints"]) == ["/ask"]
        assert endpoints["unnamed_endpoints"] == {}
        params = [p["parameter_name"] for p in endpoints["named_endpoints"]["/ask"]["parameters"]]
        assert params == ["question", "history"]
    finally:
        demo.close()
