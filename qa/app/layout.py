"""The page: gradio Blocks wiring the app's parts together, built but not launched.

``build_demo(pipeline, ingest_files=...)`` returns the app *without launching it*, so tests build
it with fakes; ``app.py`` launches it. Two tabs:

1. "Gesprek": the chat (answers stream in, ``[n]`` links to the sources panel, follow-ups, 👍/👎
   with an optional comment, "Nieuw gesprek", "Exporteer" as Markdown), filters (sources, a date
   range), and the sources panel. The conversation is kept in the browser across a reload.
2. "Artikelen": the articles in the index as a searchable table, removing articles (after a
   confirmation), and "Artikelen toevoegen" (uploads through the ingest function it was given).

Plus one named API endpoint, ``/ask``: the JSON of ``python -m qa ask --json``.

gradio is imported inside ``build_demo`` only. Every handler here is a thin adapter: the
behaviour lives in ``chat``, ``articles``, ``uploads`` and ``feedback``, tested without a browser.
"""

# No ``from __future__ import annotations`` here: gradio reads the handlers' type hints at run
# time (gr.SelectData, gr.LikeData, gr.Progress, and the ``/ask`` endpoint's parameters).

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.app.articles import HEADERS, Desk, Listing, RemoveArticles
from qa.app.chat import ChatApp, ChatUpdate, turn_of_message
from qa.app.conversation import Turn
from qa.app.feedback import Collector, FeedbackLog, feedback_path
from qa.app.sources import EMPTY_SOURCES
from qa.app.uploads import UPLOAD_TYPES, IngestFiles, Uploader
from qa.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

    from qa.pipeline import Pipeline

TITLE = "Vraagbaak"
INTRO = (
    "# Vraagbaak\n"
    "Stel een vraag over de nieuwsartikelen. Elk antwoord komt uit de artikelen zelf: klik op "
    "een bronnummer zoals [1] om te zien uit welk artikel en welke zinnen het komt. Vervolgvragen "
    "mogen (\u201cEn wat gaf Kim terug?\u201d). Welke artikelen er zijn, zie je (en beheer je) "
    "op het tabblad \u201cArtikelen\u201d."
)
PLACEHOLDER = "Stel een vraag over de artikelen\u2026"
EXAMPLES = (
    "Wat gaf Poetin aan Kim?",
    "Wanneer bezocht Poetin Noord-Korea eerder?",
    "Waar ligt Spa-Francorchamps?",
)
STORAGE_KEY = "vraagbaak-gesprek"  # where the browser keeps the conversation (localStorage)
# Marks the page as ready once the kept conversation and the article list are in (tests wait
# for it; a person never types that fast).
LOADED_JS = "() => { document.body.dataset.vraagbaak = 'klaar'; }"
THANKS = {
    "up": "Dank je voor je \U0001f44d. Wil je er iets bij zeggen? (optioneel)",
    "down": "Dank je voor je \U0001f44e. Wat klopte er niet? (optioneel)",
}

SOURCES_CSS = """
.vb-bronnen h3 { margin: 0 0 .5rem; }
.vb-bronnen h4.vb-others { margin: 1rem 0 .4rem; font-size: .95em; opacity: .8; }
.vb-empty, .vb-note { opacity: .8; }
.vb-bron { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .5rem .75rem; margin: 0 0 .6rem; background: var(--block-background-fill); }
.vb-bron.vb-cited { border-color: var(--color-accent); }
.vb-bron > summary { cursor: pointer; font-weight: 600; }
.vb-bron .vb-n { color: var(--color-accent); margin-right: .25rem; }
.vb-meta { font-size: .85em; opacity: .8; margin: .3rem 0; }
.vb-zinnen { margin: .4rem 0; padding-left: 1.1rem; line-height: 1.45; }
.vb-zinnen li { margin: .2rem 0; }
.vb-artikel > summary { cursor: pointer; font-size: .9em; color: var(--color-accent); }
.vb-passage { white-space: pre-wrap; margin: .4rem 0 0; line-height: 1.45; }
.vb-passage mark { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; }
.vb-bron:target { outline: 2px solid var(--color-accent); }
.vb-searched { font-size: .85em; opacity: .8; margin: .6rem 0 0; }
.vb-searched span { font-weight: 600; }
"""

STATUS_CSS = """
.vb-status { font-size: .9em; opacity: .85; }
.vb-warnings { margin: .2rem 0 0 1rem; }
.vb-notice.vb-error { color: var(--error-text-color, #b91c1c); }
.vb-confirm ul { margin: .3rem 0 .3rem 1.1rem; }
"""


def launch_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``demo.launch``: a login page when ``settings.auth`` is set, the
    upload limit. No host, port or share: gradio reads GRADIO_SERVER_NAME/PORT itself."""
    options: dict[str, Any] = {"max_file_size": f"{settings.max_upload_mb:g}mb"}
    if settings.auth:
        user, sep, password = settings.auth.partition(":")
        if not sep or not user or not password:
            raise ValueError("VRAAGBAAK_AUTH moet de vorm 'gebruiker:wachtwoord' hebben.")
        options["auth"] = (user, password)
        options["auth_message"] = "Log in om Vraagbaak te gebruiken."
    return options


def build_demo(
    pipeline: "Pipeline", *, ingest_files: IngestFiles | None = None,
    settings: Settings | None = None, feedback_file: Path | None = None,
    remove_articles: RemoveArticles | None = None,
) -> "gr.Blocks":  # fmt: skip
    """The whole page, queued but not launched. ``ingest_files`` enables uploads;
    ``feedback_file`` defaults to ``feedback.jsonl`` in the index folder; ``remove_articles``
    (article ids -> count) defaults to the store's own removal."""
    import gradio as gr

    settings = settings or pipeline.settings
    chat = ChatApp(
        pipeline, can_upload=ingest_files is not None,
        export_dir=Path(tempfile.gettempdir()) / "vraagbaak-exports",
    )  # fmt: skip
    uploader = Uploader(pipeline, ingest_files, settings=settings)
    desk = Desk(
        pipeline.store, upload_dir=uploader.upload_dir, lock=uploader.lock,
        remove=remove_articles,
    )  # fmt: skip
    collector = Collector(FeedbackLog(feedback_file or feedback_path(settings)))
    private: dict[str, Any] = {"api_visibility": "private"}

    # gradio keeps a copy of every file it serves (each export); a day is long enough.
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        gr.Markdown(INTRO)
        turns = gr.State([])
        saved = gr.BrowserState([], storage_key=STORAGE_KEY)
        pending = gr.State(None)  # the thumb a comment will be added to
        shown_ids = gr.State([])  # the article id of each row of the table as shown

        with gr.Tabs():
            with (
                gr.Tab("Gesprek", id="gesprek", elem_id="tab-gesprek"),
                gr.Row(equal_height=False),
            ):
                with gr.Column(scale=3, min_width=360):
                    chatbot = gr.Chatbot(
                        label="Gesprek", height=480, elem_id="gesprek", buttons=[],
                        placeholder="Stel hieronder een vraag, of kies een voorbeeldvraag.",
                        feedback_options=("Like", "Dislike"), latex_delimiters=[],
                        sanitize_html=True, render_markdown=True, allow_tags=False,
                    )  # fmt: skip
                    with gr.Group(visible=False, elem_id="feedback") as feedback_box:
                        comment = gr.Textbox(
                            label=THANKS["down"], lines=2, max_lines=6, elem_id="opmerking",
                            placeholder="Bijvoorbeeld: het antwoord mist de dolk.",
                        )  # fmt: skip
                        send_comment = gr.Button("Opmerking versturen", size="sm")
                    feedback_note = gr.HTML("", css_template=STATUS_CSS, js_on_load=None,
                                            elem_id="feedback-bericht")  # fmt: skip
                    status = gr.HTML(
                        chat.initial_status, css_template=STATUS_CSS, js_on_load=None,
                        elem_id="modus",
                    )  # fmt: skip
                    with gr.Row(equal_height=True):
                        textbox = gr.Textbox(
                            placeholder=PLACEHOLDER, show_label=False, lines=1, max_lines=4,
                            scale=4, autofocus=True, container=False, elem_id="vraag",
                        )  # fmt: skip
                        send = gr.Button("Verstuur", variant="primary", scale=0, min_width=120)
                    with gr.Row():
                        clear = gr.Button("Nieuw gesprek", size="sm", elem_id="nieuw-gesprek")
                        export = gr.DownloadButton(
                            "Exporteer", value=None, interactive=False, size="sm",
                            elem_id="exporteer",
                        )  # fmt: skip
                    with gr.Accordion("Filters", open=False, elem_id="filters"):
                        source_filter = gr.Dropdown(
                            choices=[], value=[], multiselect=True, label="Bronnen",
                            info="Leeg: alle bronnen.", elem_id="filter-bronnen",
                        )  # fmt: skip
                        with gr.Row():
                            date_from = gr.Textbox(
                                label="Vanaf", placeholder="JJJJ-MM-DD", elem_id="filter-vanaf"
                            )
                            date_to = gr.Textbox(
                                label="Tot en met", placeholder="JJJJ-MM-DD",
                                elem_id="filter-tot",
                            )  # fmt: skip
                    examples = gr.Examples(
                        [[q] for q in EXAMPLES], inputs=[textbox], label="Voorbeeldvragen"
                    )
                with gr.Column(scale=2, min_width=300):
                    sources = gr.HTML(
                        EMPTY_SOURCES, css_template=SOURCES_CSS, js_on_load=None,
                        elem_id="bronnen",
                    )  # fmt: skip

            with gr.Tab("Artikelen", id="artikelen", elem_id="tab-artikelen"):
                count = gr.Markdown("", elem_id="aantal")
                search = gr.Textbox(
                    label="Zoeken", placeholder="Zoek op titel, bron of datum\u2026",
                    elem_id="zoeken",
                )  # fmt: skip
                table = gr.Dataframe(
                    headers=HEADERS, datatype=["str", "str", "str", "number"], type="array",
                    interactive=False, wrap=True, max_height=420, elem_id="artikelen-tabel",
                    column_widths=["55%", "15%", "22%", "8%"],
                )  # fmt: skip
                with gr.Row(equal_height=True):
                    selection = gr.Dropdown(
                        choices=[], value=[], multiselect=True, label="Te verwijderen",
                        info="Klik op een rij in de tabel, of kies hier.", scale=4,
                        elem_id="selectie",
                    )  # fmt: skip
                    delete = gr.Button("Verwijderen", variant="stop", scale=0, min_width=160)
                with gr.Group(visible=False, elem_id="bevestigen") as confirm_box:
                    confirm_text = gr.HTML("", css_template=STATUS_CSS, js_on_load=None)
                    with gr.Row():
                        yes = gr.Button("Ja, verwijderen", variant="stop", elem_id="ja-verwijderen")
                        no = gr.Button("Annuleren", elem_id="annuleren")
                desk_notice = gr.HTML(
                    "", css_template=STATUS_CSS, js_on_load=None, elem_id="artikelen-bericht"
                )
                if ingest_files is not None:
                    gr.Markdown(
                        "### Artikelen toevoegen\nBestanden: " + ", ".join(UPLOAD_TYPES)
                        + f". Maximaal {settings.max_upload_files} bestanden en "
                        f"{settings.max_upload_mb:g} MB per keer.",
                        elem_id="toevoegen",
                    )  # fmt: skip
                    files = gr.File(
                        file_count="multiple", file_types=list(UPLOAD_TYPES), type="filepath",
                        label="Artikelbestanden", elem_id="bestanden",
                    )  # fmt: skip
                    add = gr.Button("Toevoegen", variant="primary", elem_id="toevoegen-knop")
                    upload_report = gr.HTML("", css_template=STATUS_CSS, js_on_load=None)

        # --- the chat ---------------------------------------------------------------------------

        chat_inputs = [textbox, turns, source_filter, date_from, date_to]
        chat_outputs = [textbox, chatbot, turns, sources, status]

        kept = [saved, export]  # what follows the conversation: the browser's copy, the export

        def keep(turns_value: list[Turn]) -> tuple[Any, Any]:
            """The conversation for the browser to keep, and the file for "Exporteer"."""
            path = chat.export(turns_value)
            download = gr.DownloadButton(value=str(path) if path else None,
                                         interactive=path is not None)  # fmt: skip
            return chat.save(turns_value), download

        def respond(
            message: str, turns_value: list[Turn], chosen: list[str] | None, start: str,
            end: str,
        ) -> Iterator[tuple[Any, ...]]:  # fmt: skip
            """chat.respond, with the final answer kept in the same step that shows it (a
            reload right after an answer finds it), and the step before held back one step."""
            held: ChatUpdate | None = None
            for step, update in enumerate(chat.respond(message, turns_value, chosen, start, end)):
                if step == 0:  # "Ik zoek in de artikelen…" shows at once
                    yield (*update, gr.skip(), gr.skip())
                    continue
                if held is not None:
                    yield (*held, gr.skip(), gr.skip())
                held = update
            if held is not None:
                yield (*held, *keep(held.turns))

        # The chat, the examples and the API share one limit: answering is CPU-bound.
        answering: dict[str, Any] = {"concurrency_id": "answer", "show_progress": "hidden"}
        gr.on(
            [textbox.submit, send.click], respond, chat_inputs, [*chat_outputs, *kept],
            **answering, **private,
        )  # fmt: skip
        examples.load_input_event.then(
            respond, chat_inputs, [*chat_outputs, *kept], **answering, **private
        )

        def new_chat() -> tuple[Any, ...]:
            return (*chat.new_chat(), *keep([]))

        for trigger in (clear.click, chatbot.clear):
            trigger(new_chat, None, [*chat_outputs, *kept], queue=False, **private)

        def select(turns_value: list[Turn], evt: gr.SelectData) -> str:
            return chat.show_sources(turns_value, evt.index)

        chatbot.select(select, [turns], [sources], queue=False, **private)

        # --- feedback -----------------------------------------------------------------------------

        def rate(turns_value: list[Turn], evt: gr.LikeData) -> tuple[Any, ...]:
            position = turn_of_message(turns_value, evt.index)
            given = collector.rate(turns_value, position, evt.liked)
            if given is None:
                return None, gr.Group(visible=False), "", gr.Textbox(value="")
            label = THANKS[given["verdict"]]
            return given, gr.Group(visible=True), "", gr.Textbox(value="", label=label)

        chatbot.like(
            rate, [turns], [pending, feedback_box, feedback_note, comment], queue=False,
            **private,
        )  # fmt: skip

        def add_comment(turns_value: list[Turn], given: Any, text: str) -> tuple[Any, ...]:
            if not (text or "").strip():
                hint = '<div class="vb-notice vb-info">Typ eerst je opmerking.</div>'
                return given, gr.Group(visible=True), hint, gr.Textbox()
            saved_ok = collector.comment(turns_value, given, text)
            note = (
                '<div class="vb-notice vb-info">Dank je, je opmerking is opgeslagen.</div>'
                if saved_ok
                else '<div class="vb-notice vb-error">Geef eerst een \U0001f44d of '
                "\U0001f44e bij een antwoord.</div>"
            )
            return None, gr.Group(visible=False), note, gr.Textbox(value="")

        gr.on(
            [send_comment.click, comment.submit], add_comment, [turns, pending, comment],
            [pending, feedback_box, feedback_note, comment], queue=False, **private,
        )  # fmt: skip

        # --- the Artikelen tab --------------------------------------------------------------------

        listing_outputs = [table, shown_ids, count, selection, source_filter]

        def show(listing: Listing, *, keep_selection: bool = True) -> tuple[Any, ...]:
            chosen = gr.Dropdown(choices=listing.choices) if keep_selection else gr.Dropdown(
                choices=listing.choices, value=[]
            )  # fmt: skip
            return (
                listing.rows, listing.ids, f"**{listing.count}**", chosen,
                gr.Dropdown(choices=listing.sources),
            )  # fmt: skip

        def refresh(query: str) -> tuple[Any, ...]:
            return show(desk.listing(query))

        def on_load(saved_value: Any, query: str) -> tuple[Any, ...]:
            """One event when the page opens: the conversation the browser kept (with its
            export), and the articles (with the filters' sources)."""
            update = chat.restore(saved_value)
            return (*update, keep(update.turns)[1], *show(desk.listing(query)))

        demo.load(
            on_load, [saved, search], [*chat_outputs, export, *listing_outputs], **private
        ).then(None, js=LOADED_JS, **private)
        search.change(refresh, [search], listing_outputs, show_progress="hidden", **private)

        def pick(chosen: list[str], ids: list[str], evt: gr.SelectData) -> list[str]:
            return desk.clicked(chosen, ids, evt.index)

        table.select(pick, [selection, shown_ids], [selection], queue=False, **private)

        def ask_delete(chosen: list[str]) -> tuple[Any, ...]:
            prompt = desk.ask_delete(chosen)
            if prompt.confirm:
                return prompt.message, gr.Group(visible=True), ""
            return "", gr.Group(visible=False), prompt.message

        delete.click(ask_delete, [selection], [confirm_text, confirm_box, desk_notice], **private)
        no.click(
            lambda: ("", gr.Group(visible=False), ""), None,
            [confirm_text, confirm_box, desk_notice], queue=False, **private,
        )  # fmt: skip

        def remove(chosen: list[str], query: str) -> tuple[Any, ...]:
            notice = desk.delete(chosen)
            return ("", gr.Group(visible=False), notice,
                    *show(desk.listing(query), keep_selection=False))  # fmt: skip

        yes.click(
            remove, [selection, search],
            [confirm_text, confirm_box, desk_notice, *listing_outputs],
            concurrency_limit=1, concurrency_id="ingest", **private,
        )  # fmt: skip

        if ingest_files is not None:

            def add_files(
                uploaded: list[str] | None,
                progress: gr.Progress = gr.Progress(),  # noqa: B008 - gradio's way
            ) -> tuple[None, str]:
                return None, uploader.add_files(uploaded, progress)

            add.click(
                add_files, [files], [files, upload_report], concurrency_limit=1,
                concurrency_id="ingest", **private,
            ).then(refresh, [search], listing_outputs, **private)  # fmt: skip

        # --- the API ------------------------------------------------------------------------------

        def ask(
            question: str,
            history: list[str] | None = None,
            sources: list[str] | None = None,
            date_from: str | None = None,
            date_to: str | None = None,
        ) -> dict[str, Any]:
            """Beantwoord een vraag over de artikelen. `history`: eerdere vragen van het gesprek
            (voor vervolgvragen). `sources`: alleen deze bronnen; `date_from`/`date_to`: alleen
            artikelen uit die periode (JJJJ-MM-DD). Geeft hetzelfde JSON-object als
            `python -m qa ask --json`, of {"error": "..."} met een Nederlandse foutmelding."""
            return chat.ask(question, history, sources, date_from, date_to)

        gr.api(ask, api_name="ask", concurrency_id="answer")

    # An offline answer takes well under a second of CPU: four run at once (more would only
    # share the same cores), the rest wait their turn; 64 places in the queue leave room for
    # 20 people chatting at once, each with a question and an upload or API call pending.
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo
