"""The chat app: a Gradio page in Dutch over a :class:`qa.pipeline.Pipeline`.

``build_demo(pipeline, ingest_files=...)`` returns the app *without launching it*, so tests build
it with fakes; ``app.py`` launches it. The page has four parts:

1. the chat: answers stream in, ``[n]`` markers link to the sources, follow-up questions use the
   earlier questions of the conversation, "Nieuw gesprek" starts over;
2. the sources panel ("Bronnen"): per source its title, outlet, date, link and the passage with
   the cited sentence marked;
3. "Artikelen toevoegen": uploaded files go through the ingest function the app was given;
4. a named API endpoint ``/ask`` that returns the same JSON as ``python -m qa ask --json``.

Everything shown is built here as HTML with every piece of article text and model output
escaped: text from an article or an answer is shown as text, never run as HTML. The formatting
functions are pure and tested without a browser; gradio is imported only inside functions.

What this module deliberately does not do: read, chunk or embed article files (``qa`` never
imports ``ingest``; the ingest function arrives as an argument), or decide what an answer says
(the pipeline does).
"""

# No ``from __future__ import annotations`` here: gradio reads the ``/ask`` function's type hints
# at run time to describe the endpoint, so they must be real objects, not strings.

import html
import logging
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlparse

from langchain_core.embeddings import Embeddings

from qa.errors import IndexEmptyError, VraagbaakError
from qa.index.store import ChunkStore
from qa.settings import Settings
from qa.types import Answer, Source

if TYPE_CHECKING:
    import gradio as gr

    from qa.pipeline import Pipeline

log = logging.getLogger(__name__)

TITLE = "Vraagbaak"
INTRO = (
    "# Vraagbaak\n"
    "Stel een vraag over de nieuwsartikelen. Elk antwoord komt uit de artikelen zelf: klik op "
    "een bronnummer zoals [1] om te zien uit welk artikel en welke zin het komt. Vervolgvragen "
    "mogen (\u201cEn wat gaf Kim terug?\u201d). Eigen artikelen voeg je toe onder "
    "\u201cArtikelen toevoegen\u201d."
)
PLACEHOLDER = "Stel een vraag over de artikelen\u2026"
EXAMPLES = (
    "Wat gaf Poetin aan Kim?",
    "Wanneer bezocht Poetin Noord-Korea eerder?",
    "Waar ligt Spa-Francorchamps?",
)
# The formats the ingester reads (ingest.readers.SUFFIXES; a test keeps the two in step).
UPLOAD_TYPES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".csv")
MAX_HISTORY = 10  # earlier questions passed on for follow-ups
THINKING = "<em>Ik zoek in de artikelen\u2026</em>"

# --- what the app needs from the ingester (ingest.pipeline.ingest_paths fits) -----------------


class SkippedFile(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def reason(self) -> str: ...


class IngestReport(Protocol):
    """What an ingest run reports (``ingest.pipeline.IngestSummary`` has these)."""

    @property
    def added(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
    @property
    def skipped(self) -> Sequence[SkippedFile]: ...
    @property
    def article_ids(self) -> Sequence[str]: ...


class IngestFiles(Protocol):
    """Ingest files or folders into the index (``ingest.pipeline.ingest_paths`` fits)."""

    def __call__(
        self, paths: Sequence[Path], *, store: ChunkStore, embeddings: Embeddings,
        settings: Settings, progress: Callable[[Any], None] | None = None,
    ) -> IngestReport: ...  # fmt: skip


# --- pure formatting --------------------------------------------------------------------------

_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december")  # fmt: skip
_MARKER = re.compile(r"\[(\d{1,3})\]")
_MD_INLINE = re.compile(r"([\\`*_\[\]~|])")
_MD_LINE_START = re.compile(r"^([#+=>-])|^(\d+)([.)])", re.M)


def escape_text(text: str) -> str:
    """Text shown as text in a Markdown-rendering chat bubble: HTML escaped, Markdown defused.

    The chatbot renders Markdown and then sanitises HTML; escaping both means that
    ``<img src=x onerror=...>`` and ``**`` in an article or an answer show up literally."""
    return _defuse(_unindent(text))


def _unindent(text: str) -> str:
    # Indented lines would become Markdown code blocks.
    return "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))


def _defuse(text: str) -> str:
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)
    return html.escape(text, quote=False)


def source_anchor(turn: int, n: int) -> str:
    """The element id of source ``n`` of answer number ``turn`` in the sources panel."""
    return f"bron-{turn}-{n}"


def render_cited_text(text: str, sources: Sequence[int], turn: int) -> str:
    """Answer text for the chat, escaped, with each ``[n]`` of a known source a link to it."""
    known = set(sources)
    text = _unindent(text)
    out: list[str] = []
    pos = 0
    for m in _MARKER.finditer(text):
        out.append(_defuse(text[pos : m.start()]))
        n = int(m[1])
        if n in known:
            out.append(f'<a href="#{source_anchor(turn, n)}" class="vb-cite">\\[{n}\\]</a>')
        else:
            out.append(_defuse(m[0]))
        pos = m.end()
    out.append(_defuse(text[pos:]))
    return "".join(out)


def render_message(answer: Answer, question: str, turn: int) -> str:
    """The chat bubble of an answer: the text with its markers linked, and what was searched
    when a follow-up was rewritten."""
    body = render_cited_text(answer.answer, [s.n for s in answer.sources], turn)
    if answer.query.strip().lower() != question.strip().lower():
        body += f"\n\n<small>Gezocht op: {escape_text(answer.query)}</small>"
    return body


def render_user(question: str) -> str:
    return escape_text(question)


def format_date(date: str | None) -> str:
    """'2024-06-19' -> '19 juni 2024', '2024-06' -> 'juni 2024'; anything else as it is."""
    if not date:
        return ""
    m = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?", date.strip())
    if not m or (m[2] and not 1 <= int(m[2]) <= 12):
        return date
    year, month, day = m.groups()
    if not month:
        return year
    name = _MONTHS[int(month) - 1]
    return f"{int(day)} {name} {year}" if day else f"{name} {year}"


def safe_url(url: str | None) -> str | None:
    """The URL when it is a plain http(s) link, else None (no ``javascript:`` or ``data:``)."""
    if not url:
        return None
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme.lower() not in {"http", "https"} or not parsed.netloc:
        return None
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return None
    return url


def highlight_passage(text: str, span: tuple[int, int] | None) -> str:
    """The passage as escaped HTML, the cited sentence inside ``<mark>``."""
    if span is None:
        return html.escape(text)
    start, end = span
    if not 0 <= start < end <= len(text):
        return html.escape(text)
    return (
        html.escape(text[:start])
        + "<mark>"
        + html.escape(text[start:end])
        + "</mark>"
        + html.escape(text[end:])
    )


def render_source(source: Source, turn: int, *, cited: bool) -> str:
    """One entry of the sources panel: number, title, outlet, date, link, marked passage."""
    meta = [html.escape(x) for x in (source.source, format_date(source.date)) if x]
    url = safe_url(source.url)
    if url:
        meta.append(
            f'<a href="{html.escape(url, quote=True)}" target="_blank" '
            'rel="noopener noreferrer nofollow">artikel openen</a>'
        )
    title = html.escape(source.title or source.article_id)
    return (
        f'<details class="vb-bron{" vb-cited" if cited else ""}" '
        f'id="{source_anchor(turn, source.n)}"{" open" if cited else ""}>'
        f'<summary><span class="vb-n">[{source.n}]</span> '
        f'<span class="vb-title">{title}</span></summary>'
        + (f'<div class="vb-meta">{" · ".join(meta)}</div>' if meta else "")
        + f'<p class="vb-passage">{highlight_passage(source.text, source.highlight)}</p>'
        "</details>"
    )


EMPTY_SOURCES = (
    '<div class="vb-bronnen"><h3>Bronnen</h3>'
    '<p class="vb-empty">Stel een vraag: hier verschijnen de artikelen waar het antwoord uit '
    "komt, met de geciteerde zin gemarkeerd.</p></div>"
)


def render_sources(answer: Answer, turn: int) -> str:
    """The sources panel for one answer: the cited sources first, open; the others folded."""
    by_n = {s.n: s for s in answer.sources}
    cited = [by_n[n] for n in dict.fromkeys(answer.cited) if n in by_n]
    others = [s for s in answer.sources if s.n not in set(answer.cited)]
    parts = ['<div class="vb-bronnen"><h3>Bronnen</h3>']
    if not answer.sources:
        parts.append('<p class="vb-empty">Geen artikelen gevonden die bij deze vraag passen.</p>')
    parts += [render_source(s, turn, cited=True) for s in cited]
    if others:
        heading = "Ook gevonden" if cited else "Artikelen die er het dichtst bij komen"
        parts.append(f'<h4 class="vb-others">{heading}</h4>')
        parts += [render_source(s, turn, cited=False) for s in others]
    parts.append("</div>")
    return "".join(parts)


def mode_label(mode: str) -> str:
    """Which answerer answered, as the page says it."""
    if mode in ("", "none", "offline"):
        return "Antwoord uit de artikelen (offline)"
    return f"Antwoord van taalmodel {mode}"


def render_status(mode: str, warnings: Sequence[str] = ()) -> str:
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return (
        f'<div class="vb-status"><span class="vb-mode">{html.escape(mode_label(mode))}</span>'
        + (f'<ul class="vb-warnings">{items}</ul>' if items else "")
        + "</div>"
    )


def render_notice(text: str, *, kind: str = "info") -> str:
    return f'<div class="vb-notice vb-{kind}">{html.escape(text)}</div>'


def error_message(err: BaseException, *, can_upload: bool = False) -> str:
    """A friendly Dutch sentence for anything that went wrong, never a stack trace."""
    if isinstance(err, IndexEmptyError):
        hint = " Of gebruik \u201cArtikelen toevoegen\u201d op deze pagina." if can_upload else ""
        return f"{err}{hint}"
    if isinstance(err, VraagbaakError):
        return str(err)
    detail = str(err).strip() or type(err).__name__
    if len(detail) > 200:
        detail = detail[:199] + "\u2026"
    return f"Er ging iets mis: {detail}. Probeer het opnieuw of stel een andere vraag."


def safe_upload_name(name: str) -> str:
    """The base name of an uploaded file, safe to write and to use as an article id: no folders,
    no '..', no hidden files, no control characters."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")
    if not base:
        base = "upload"
    if len(base) > 120:
        suffix = Path(base).suffix[:12]
        base = base[: 120 - len(suffix)] + suffix
    return base


def render_upload_report(
    report: IngestReport, skipped: Sequence[tuple[str, str]], *, articles_total: int | None
) -> str:
    """What an upload did: added, updated, unchanged, and every skipped file with its reason."""
    counts = []
    if report.added:
        counts.append(
            f"{report.added} {'artikel' if report.added == 1 else 'artikelen'} toegevoegd"
        )
    if report.updated:
        counts.append(f"{report.updated} bijgewerkt")
    if report.unchanged:
        counts.append(f"{report.unchanged} ongewijzigd (stond er al in)")
    if not counts:
        counts.append("Geen artikelen toegevoegd")
    parts = [f"<p><strong>{html.escape(', '.join(counts))}.</strong>"]
    if report.article_ids:
        names = ", ".join(html.escape(a) for a in report.article_ids[:20])
        more = len(report.article_ids) - 20
        parts.append(f" Nieuw: {names}{f' en {more} meer' if more > 0 else ''}.")
    parts.append("</p>")
    if report.added or report.updated:
        parts.append("<p>Je kunt er meteen vragen over stellen.</p>")
    if articles_total is not None:
        parts.append(f"<p>De index bevat nu {articles_total} artikelen.</p>")
    if skipped:
        items = "".join(
            f"<li><code>{html.escape(name)}</code>: {html.escape(reason)}</li>"
            for name, reason in skipped
        )
        parts.append(f"<p>Overgeslagen:</p><ul>{items}</ul>")
    return '<div class="vb-notice vb-info">' + "".join(parts) + "</div>"


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


# --- the handlers -----------------------------------------------------------------------------

ChatMessage = dict[str, Any]


class ChatUpdate(NamedTuple):
    """What one step of the chat handler shows; the order of the chat event's outputs."""

    textbox: str
    chat: list[ChatMessage]
    questions: list[str]
    panels: dict[int, str]  # index of an answer's chat message -> its sources panel
    sources: str
    status: str


class ChatApp:
    """The app's behaviour, without gradio: build_demo wires these methods to the page."""

    def __init__(
        self, pipeline: "Pipeline", *, ingest_files: IngestFiles | None = None,
        settings: Settings | None = None,
    ) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.settings = settings or pipeline.settings
        self.ingest_files = ingest_files
        self._ingest_lock = threading.Lock()  # one writer at a time

    @property
    def initial_status(self) -> str:
        return render_status(self.pipeline.mode)

    # 1. the chat

    def respond(
        self, message: str, chat: Sequence[ChatMessage] | None, questions: Sequence[str] | None,
        panels: Mapping[int, str] | None,
    ) -> Iterator[ChatUpdate]:  # fmt: skip
        """Answer one question: the bubble first shows that it is searching, then the streamed
        text, then the final, checked answer; the sources panel follows the answer."""
        chat = list(chat or [])
        questions = list(questions or [])
        panels = dict(panels or {})
        sources = panels[max(panels)] if panels else EMPTY_SOURCES
        question = (message or "").strip()
        if question:
            chat.append({"role": "user", "content": render_user(question)})
        chat.append({"role": "assistant", "content": THINKING})
        index = len(chat) - 1
        yield ChatUpdate("", list(chat), questions, panels, sources, self.initial_status)

        final: Answer | None = None
        parts: list[str] = []
        try:
            for event in self.pipeline.stream(question, questions[-MAX_HISTORY:]):
                if isinstance(event, Answer):
                    final = event
                    continue
                parts.append(event)
                chat[index] = {"role": "assistant", "content": escape_text("".join(parts))}
                yield ChatUpdate("", list(chat), questions, panels, sources, self.initial_status)
        except Exception as err:  # noqa: BLE001 - every failure becomes a Dutch message
            if not isinstance(err, VraagbaakError):
                log.exception("the chat failed on %r", question)
            text = error_message(err, can_upload=self.ingest_files is not None)
            chat[index] = {"role": "assistant", "content": escape_text(text)}
            yield ChatUpdate("", chat, questions, panels, sources, self.initial_status)
            return
        if final is None:  # the pipeline always ends with an Answer; be safe anyway
            return
        turn = len(panels) + 1
        chat[index] = {"role": "assistant", "content": render_message(final, question, turn)}
        panels[index] = render_sources(final, turn)
        questions.append(question)
        status = render_status(final.mode, final.warnings)
        yield ChatUpdate("", chat, questions, panels, panels[index], status)

    def new_chat(self) -> ChatUpdate:
        """Nieuw gesprek: an empty chat, no earlier questions, no sources."""
        return ChatUpdate("", [], [], {}, EMPTY_SOURCES, self.initial_status)

    def show_sources(self, panels: Mapping[int, str] | None, index: Any) -> str:
        """The sources of the answer that was clicked (or of the answer to a clicked question)."""
        panels = panels or {}
        if isinstance(index, (list, tuple)):
            index = index[0] if index else None
        if isinstance(index, int):
            for i in (index, index + 1):
                if i in panels:
                    return panels[i]
        return panels[max(panels)] if panels else EMPTY_SOURCES

    # 2. the API

    def ask(self, question: str, history: Sequence[str] | None = None) -> dict[str, Any]:
        """``Answer.to_json()``, or ``{"error": "<Dutch message>"}``."""
        if isinstance(history, str):
            history = [history]
        earlier = [h for h in (history or []) if isinstance(h, str) and h.strip()]
        try:
            return self.pipeline.ask(
                question if isinstance(question, str) else "", earlier[-MAX_HISTORY:]
            ).to_json()
        except Exception as err:  # noqa: BLE001 - errors are answers too
            if not isinstance(err, VraagbaakError):
                log.exception("the API failed on %r", question)
            return {"error": error_message(err)}

    # 3. uploads

    @property
    def upload_dir(self) -> Path:
        """Uploaded files are kept beside the index, so that the index can be rebuilt from them
        and ``ingest --prune`` does not drop them."""
        return self.settings.index_dir / "uploads"

    def add_files(
        self, files: Sequence[Any] | None, progress: Callable[..., Any] | None = None
    ) -> str:
        """Ingest uploaded files; returns the report (HTML) with every skipped file's reason."""
        if self.ingest_files is None:
            return render_notice("Artikelen toevoegen staat uit in deze app.", kind="error")
        paths = [Path(getattr(f, "name", f)) for f in (files or []) if f]
        if not paths:
            return render_notice("Kies eerst een of meer artikelbestanden.", kind="error")
        limit = self.settings.max_upload_files
        if len(paths) > limit:
            return render_notice(
                f"Te veel bestanden tegelijk ({len(paths)}); het maximum is {limit}. "
                "Voeg ze in delen toe.",
                kind="error",
            )
        total = sum(p.stat().st_size for p in paths if p.exists())
        max_bytes = self.settings.max_upload_mb * 1_000_000
        if total > max_bytes:
            return render_notice(
                f"De bestanden zijn samen te groot ({total / 1e6:.1f} MB); het maximum is "
                f"{self.settings.max_upload_mb:g} MB per keer.",
                kind="error",
            )

        def report(p: Any) -> None:
            done, todo = int(p.articles_done), int(p.articles_total)
            if progress is not None and todo:
                progress(done / todo, desc=f"{done} van {todo} artikelen verwerkt")

        with self._ingest_lock:
            staged, skipped = self._stage(paths)
            if not staged:
                return render_upload_report(_NOTHING, skipped, articles_total=None)
            if progress is not None:
                progress(0.0, desc="Artikelen lezen\u2026")
            try:
                result = self.ingest_files(
                    staged, store=self.pipeline.store, embeddings=self.pipeline.embeddings,
                    settings=self.settings, progress=report,
                )  # fmt: skip
                total_articles: int | None = len(self.pipeline.store.articles())
            except Exception as err:  # noqa: BLE001 - shown as a Dutch message
                if not isinstance(err, VraagbaakError):
                    log.exception("ingesting uploads failed")
                return render_notice(error_message(err), kind="error")
        skipped += [(self._shown(s.path), s.reason) for s in result.skipped]
        return render_upload_report(result, skipped, articles_total=total_articles)

    def _stage(self, paths: Sequence[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
        """Copy uploads under their safe base names; unsupported types are skipped."""
        target = self.upload_dir
        target.mkdir(parents=True, exist_ok=True)
        staged: list[Path] = []
        skipped: list[tuple[str, str]] = []
        used: set[str] = set()
        for path in paths:
            name = safe_upload_name(path.name)
            suffix = Path(name).suffix.lower()
            if suffix not in UPLOAD_TYPES:
                reason = f"bestandstype {suffix or '(geen)'} wordt niet gelezen; wel: " + ", ".join(
                    UPLOAD_TYPES
                )
                skipped.append((name, reason))
                continue
            stem, n = Path(name).stem, 2
            while name.lower() in used:  # two uploads with one name in one batch
                name, n = f"{stem}-{n}{suffix}", n + 1
            used.add(name.lower())
            dest = target / name
            try:
                shutil.copyfile(path, dest)
            except OSError as err:
                skipped.append((name, f"kan niet gelezen worden: {err.strerror or err}"))
                continue
            staged.append(dest)
        return staged, skipped

    def _shown(self, path: str) -> str:
        """A skipped file as the user knows it: its name, not the server's folder."""
        prefix = str(self.upload_dir) + "/"
        return path[len(prefix) :] if path.startswith(prefix) else re.split(r"[\\/]", path)[-1]


class _NothingIngested:
    added = updated = unchanged = 0
    skipped: Sequence[SkippedFile] = ()
    article_ids: Sequence[str] = ()


_NOTHING = _NothingIngested()


def ensure_sample_index(pipeline: "Pipeline", ingest_files: IngestFiles) -> IngestReport | None:
    """Fill an empty index with the bundled sample articles (a Space's disk does not persist).
    Returns the ingest report, or None when the index already had articles."""
    if pipeline.store.count() > 0:
        return None
    folder = pipeline.settings.sample_dir
    if not folder.exists():
        log.warning("the index is empty and the sample folder %s does not exist", folder)
        return None
    log.warning("the index is empty; ingesting the sample articles from %s", folder)
    return ingest_files(
        [folder], store=pipeline.store, embeddings=pipeline.embeddings, settings=pipeline.settings
    )


# --- the page ---------------------------------------------------------------------------------

SOURCES_CSS = """
.vb-bronnen h3 { margin: 0 0 .5rem; }
.vb-bronnen h4.vb-others { margin: 1rem 0 .4rem; font-size: .95em; opacity: .8; }
.vb-empty { opacity: .75; }
.vb-bron { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: .5rem .75rem; margin: 0 0 .6rem; background: var(--block-background-fill); }
.vb-bron.vb-cited { border-color: var(--color-accent); }
.vb-bron summary { cursor: pointer; font-weight: 600; }
.vb-bron .vb-n { color: var(--color-accent); margin-right: .25rem; }
.vb-meta { font-size: .85em; opacity: .8; margin: .3rem 0; }
.vb-passage { white-space: pre-wrap; margin: .4rem 0 0; line-height: 1.45; }
.vb-passage mark { background: #fde68a; color: #1f2937; padding: 0 .1em; border-radius: 2px; }
.vb-bron:target { outline: 2px solid var(--color-accent); }
"""

STATUS_CSS = """
.vb-status { font-size: .9em; opacity: .85; }
.vb-warnings { margin: .2rem 0 0 1rem; }
.vb-notice.vb-error { color: var(--error-text-color, #b91c1c); }
"""


def build_demo(
    pipeline: "Pipeline", *, ingest_files: IngestFiles | None = None,
    settings: Settings | None = None,
) -> "gr.Blocks":  # fmt: skip
    """The whole page, queued but not launched. ``ingest_files`` enables uploads."""
    import gradio as gr

    app = ChatApp(pipeline, ingest_files=ingest_files, settings=settings)
    private: dict[str, Any] = {"api_visibility": "private"}

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        questions = gr.State([])
        panels = gr.State({})
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chatbot = gr.Chatbot(
                    label="Gesprek", height=480, elem_id="gesprek", buttons=[],
                    placeholder="Stel hieronder een vraag, of kies een voorbeeldvraag.",
                    feedback_options=None, latex_delimiters=[], sanitize_html=True,
                    render_markdown=True, allow_tags=False,
                )  # fmt: skip
                status = gr.HTML(
                    app.initial_status, css_template=STATUS_CSS, js_on_load=None, elem_id="modus"
                )
                with gr.Row(equal_height=True):
                    textbox = gr.Textbox(
                        placeholder=PLACEHOLDER, show_label=False, lines=1, max_lines=4,
                        scale=4, autofocus=True, container=False, elem_id="vraag",
                    )  # fmt: skip
                    send = gr.Button("Verstuur", variant="primary", scale=0, min_width=120)
                    clear = gr.Button("Nieuw gesprek", scale=0, min_width=180)
                examples = gr.Examples(
                    [[q] for q in EXAMPLES], inputs=[textbox], label="Voorbeeldvragen"
                )
            with gr.Column(scale=2, min_width=300):
                sources = gr.HTML(
                    EMPTY_SOURCES, css_template=SOURCES_CSS, js_on_load=None, elem_id="bronnen"
                )
                if ingest_files is not None:
                    with gr.Accordion("Artikelen toevoegen", open=False, elem_id="toevoegen"):
                        gr.Markdown(
                            "Bestanden: " + ", ".join(UPLOAD_TYPES) + f". Maximaal "
                            f"{app.settings.max_upload_files} bestanden en "
                            f"{app.settings.max_upload_mb:g} MB per keer."
                        )
                        files = gr.File(
                            file_count="multiple", file_types=list(UPLOAD_TYPES),
                            type="filepath", label="Artikelbestanden", elem_id="bestanden",
                        )  # fmt: skip
                        add = gr.Button("Toevoegen", variant="primary", elem_id="toevoegen-knop")
                        upload_report = gr.HTML("", css_template=STATUS_CSS, js_on_load=None)

        chat_outputs = [textbox, chatbot, questions, panels, sources, status]
        chat_inputs = [textbox, chatbot, questions, panels]
        # The chat, the examples and the API share one limit: answering is CPU-bound.
        answering: dict[str, Any] = {"concurrency_id": "answer", "show_progress": "hidden"}
        gr.on(
            [textbox.submit, send.click], app.respond, chat_inputs, chat_outputs,
            **answering, **private,
        )  # fmt: skip
        examples.load_input_event.then(
            app.respond, chat_inputs, chat_outputs, **answering, **private
        )
        clear.click(app.new_chat, None, chat_outputs, queue=False, **private)
        chatbot.clear(app.new_chat, None, chat_outputs, queue=False, **private)

        def select(panels_value: dict[int, str], evt: gr.SelectData) -> str:
            return app.show_sources(panels_value, evt.index)

        chatbot.select(select, [panels], [sources], queue=False, **private)

        if ingest_files is not None:

            def add_files(
                uploaded: list[str] | None,
                progress: gr.Progress = gr.Progress(),  # noqa: B008 - gradio's way
            ) -> tuple[None, str]:
                return None, app.add_files(uploaded, progress)

            add.click(
                add_files, [files], [files, upload_report], concurrency_limit=1,
                concurrency_id="ingest", **private,
            )  # fmt: skip

        def ask(question: str, history: list[str] | None = None) -> dict[str, Any]:
            """Beantwoord een vraag over de artikelen. `history`: eerdere vragen van het gesprek
            (voor vervolgvragen). Geeft hetzelfde JSON-object als `python -m qa ask --json`, of
            {"error": "..."} met een Nederlandse foutmelding."""
            return app.ask(question, history)

        gr.api(ask, api_name="ask", concurrency_id="answer")

    # An offline answer takes well under a second of CPU: four run at once (more would only
    # share the same cores), the rest wait their turn; 64 places in the queue leave room for
    # 20 people chatting at once, each with a question and an upload or API call pending.
    demo.queue(default_concurrency_limit=4, max_size=64)
    return demo
