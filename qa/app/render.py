"""Small pure helpers every part of the page uses: text shown as text, Dutch dates, safe links,
status lines and the Dutch message for anything that went wrong.

Every piece of article text and model output passes through :func:`escape_text` (in a chat
bubble, which renders Markdown) or ``html.escape`` (in an HTML panel): text from an article or an
answer is shown as text, never run as HTML.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import urlparse

from qa.errors import IndexEmptyError, VraagbaakError

_MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december")  # fmt: skip
_MD_INLINE = re.compile(r"([\\`*_\[\]~|])")
_MD_LINE_START = re.compile(r"^([#+=>-])|^(\d+)([.)])", re.M)


def escape_text(text: str) -> str:
    """Text shown as text in a Markdown-rendering chat bubble: HTML escaped, Markdown defused.

    The chatbot renders Markdown and then sanitises HTML; escaping both means that
    ``<img src=x onerror=...>`` and ``**`` in an article or an answer show up literally."""
    return defuse(unindent(text))


def unindent(text: str) -> str:
    """Every line stripped: indented lines would become Markdown code blocks."""
    return "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))


def defuse(text: str) -> str:
    """Markdown's special characters backslash-escaped, then HTML escaped."""
    text = _MD_INLINE.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", text)
    return html.escape(text, quote=False)


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


def count_articles(n: int) -> str:
    """'1 artikel', '61 artikelen'."""
    return f"{n} {'artikel' if n == 1 else 'artikelen'}"


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
        hint = (
            " Of voeg ze toe op het tabblad \u201cArtikelen\u201d (Artikelen toevoegen)."
            if can_upload
            else ""
        )
        return f"{err}{hint}"
    if isinstance(err, VraagbaakError):
        return str(err)
    detail = str(err).strip() or type(err).__name__
    if len(detail) > 200:
        detail = detail[:199] + "\u2026"
    return f"Er ging iets mis: {detail}. Probeer het opnieuw of stel een andere vraag."
