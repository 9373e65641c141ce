"""The sources panel ("Bronnen"): one entry per cited article, the way a reader checks an answer.

Each entry shows the article's number, title, outlet, date and link, and under it the sentences
the answer cites from it; "Lees het hele artikel" opens the article's text with those sentences
marked. A small "Ook doorzocht" line names the articles that were searched but not cited, so a
reader sees where else the answer looked. Everything is escaped HTML built by pure functions.

What this module does not do: decide which articles are sources (``qa.answer.sources`` does).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from qa.app.render import format_date, safe_url
from qa.types import Answer, Source

EMPTY_SOURCES = (
    '<div class="vb-bronnen"><h3>Bronnen</h3>'
    '<p class="vb-empty">Stel een vraag: hier verschijnen de artikelen waar het antwoord uit '
    "komt, met de geciteerde zinnen.</p></div>"
)


def source_anchor(turn: int, n: int) -> str:
    """The element id of source ``n`` of answer number ``turn`` in the sources panel."""
    return f"bron-{turn}-{n}"


def highlight_passage(text: str, spans: Sequence[tuple[int, int]] = ()) -> str:
    """The text as escaped HTML with each span inside ``<mark>``. Spans that are empty, fall
    outside the text or overlap an earlier one are left out (the text is still shown)."""
    out: list[str] = []
    pos = 0
    for start, end in sorted(spans):
        if not pos <= start < end <= len(text):
            continue
        out += [html.escape(text[pos:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _meta(source: Source) -> str:
    parts = [html.escape(x) for x in (source.source, format_date(source.date)) if x]
    url = safe_url(source.url)
    if url:
        parts.append(
            f'<a href="{html.escape(url, quote=True)}" target="_blank" '
            'rel="noopener noreferrer nofollow">artikel openen</a>'
        )
    return f'<div class="vb-meta">{" · ".join(parts)}</div>' if parts else ""


def render_source(source: Source, turn: int, *, cited: bool) -> str:
    """One article: number, title, outlet, date, link; its cited sentences; the whole text with
    those sentences marked, folded away until opened."""
    title = html.escape(source.title or source.article_id)
    body = [_meta(source)]
    if source.highlights:
        items = "".join(
            f"<li>\u201c{html.escape(sentence.strip())}\u201d</li>" for sentence in source.sentences
        )
        body.append(f'<ul class="vb-zinnen">{items}</ul>')
        body.append(
            '<details class="vb-artikel"><summary>Lees het hele artikel</summary>'
            f'<p class="vb-passage">{highlight_passage(source.text, source.highlights)}</p>'
            "</details>"
        )
    else:  # a passage an LLM was given: no sentence marked, the passage itself is the evidence
        body.append(f'<p class="vb-passage">{html.escape(source.text)}</p>')
    return (
        f'<details class="vb-bron{" vb-cited" if cited else ""}" '
        f'id="{source_anchor(turn, source.n)}"{" open" if cited else ""}>'
        f'<summary><span class="vb-n">[{source.n}]</span> '
        f'<span class="vb-title">{title}</span></summary>' + "".join(body) + "</details>"
    )


def render_searched(titles: Sequence[str], *, limit: int = 8, width: int = 70) -> str:
    """'Ook doorzocht: A; B; C en 2 meer' (nothing when nothing else was searched). A long
    title (an article without one is named by its first sentence) is cut at ``width``."""
    titles = [" ".join(t.split()) for t in titles if t.strip()]
    if not titles:
        return ""
    short = [t if len(t) <= width else t[: width - 1].rstrip() + "\u2026" for t in titles]
    shown = "; ".join(html.escape(t) for t in short[:limit])
    more = len(titles) - limit
    return (
        f'<p class="vb-searched"><span>Ook doorzocht:</span> {shown}'
        + (f" en {more} meer" if more > 0 else "")
        + "</p>"
    )


def render_sources(answer: Answer, turn: int) -> str:
    """The sources panel for one answer: the cited articles, open; sources the answer does not
    cite (an LLM's unused passages) folded; then what else was searched."""
    cited_numbers = set(answer.cited)
    cited = [s for s in answer.sources if s.n in cited_numbers]
    others = [s for s in answer.sources if s.n not in cited_numbers]
    parts = ['<div class="vb-bronnen"><h3>Bronnen</h3>']
    if answer.refused and cited:
        parts.append('<p class="vb-note">Geen antwoord gevonden; dit komt er het dichtst bij:</p>')
    if not answer.sources:
        parts.append('<p class="vb-empty">Geen artikel geciteerd.</p>')
    parts += [render_source(s, turn, cited=True) for s in cited]
    if others:
        heading = "Ook gevonden" if cited else "Artikelen die er het dichtst bij komen"
        parts.append(f'<h4 class="vb-others">{heading}</h4>')
        parts += [render_source(s, turn, cited=False) for s in others]
    parts.append(render_searched(answer.searched))
    parts.append("</div>")
    return "".join(parts)
