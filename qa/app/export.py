"""The conversation as a Markdown document ("Exporteer"): each question, its answer with the
``[n]`` markers as they were, and under it the answer's sources with the sentences it cites.

``export_markdown`` is pure (turns and a time in, text out); ``write_export`` puts it in a file
for the download button. The text is written as it is, not escaped: it is a document to read or
keep, not a page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from qa.app.conversation import Turn
from qa.app.filters import describe
from qa.app.render import format_date, safe_url
from qa.index.retrieval import NO_FILTERS


def export_markdown(turns: Sequence[Turn], *, now: dt.datetime) -> str:
    """The whole conversation as Markdown."""
    stamp = f"{format_date(now.date().isoformat())}, {now:%H:%M}"
    lines = [f"# Gesprek met Vraagbaak ({stamp})", ""]
    if not turns:
        lines += ["Nog geen vragen gesteld.", ""]
    for number, turn in enumerate(turns, start=1):
        lines += [f"## Vraag {number}: {_one_line(turn.question) or '(leeg)'}", ""]
        if turn.filters != NO_FILTERS:
            lines += [f"*Filters: {describe(turn.filters)}*", ""]
        if turn.answer is None:
            lines += [f"*{turn.error or 'Geen antwoord.'}*", ""]
            continue
        answer = turn.answer
        lines += [answer.answer.strip(), ""]
        if answer.query.strip().lower() != turn.question.strip().lower():
            lines += [f"*Gezocht op: {_one_line(answer.query)}*", ""]
        if answer.sources:
            lines += ["**Bronnen**", ""]
        for source in answer.sources:
            meta = ", ".join(x for x in (source.source, format_date(source.date)) if x)
            head = f"{source.n}. {source.title or source.article_id}"
            lines.append(head + (f" ({meta})" if meta else ""))
            url = safe_url(source.url)
            if url:
                lines.append(f"   <{url}>")
            for sentence in source.sentences:
                lines.append(f"   > {_one_line(sentence)}")
            lines.append("")
        if answer.searched:
            lines += [f"Ook doorzocht: {'; '.join(answer.searched)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def export_name(now: dt.datetime) -> str:
    return f"vraagbaak-gesprek-{now:%Y%m%d-%H%M}.md"


def write_export(
    turns: Sequence[Turn], *, now: dt.datetime, folder: Path, keep_s: float = 3600.0
) -> Path:
    """Write the conversation to a file under ``folder`` for the download button. The file's
    folder is named after its content, so two conversations never share a file; exports older
    than ``keep_s`` seconds are removed (the download has long happened)."""
    text = export_markdown(turns, now=now)
    _prune(folder, keep_s)
    target = folder / hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]
    target.mkdir(parents=True, exist_ok=True)
    path = target / export_name(now)
    path.write_text(text, encoding="utf-8")
    return path


def _prune(folder: Path, keep_s: float) -> None:
    if not folder.is_dir():
        return
    cutoff = time.time() - keep_s
    for path in folder.glob("*/*.md"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                path.parent.rmdir()
        except OSError:
            continue
