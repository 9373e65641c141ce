"""The "Artikelen" tab: what the index holds, as a table a person can search, and removing
articles from it, with a confirmation step first.

The table comes from ``ChunkStore.list_articles()`` (newest first). Removing goes through the
remover ``app.py`` passes in (ingest's ``remove_articles``: the index and the feed state, so a
feed run does not bring the article back), else ``ChunkStore.remove_articles()``; either bumps
the index's generation, so the chat (and any other process on the index) answers without the
removed articles from the next question on. An article
that came in through the page's upload also loses its copy in ``<index>/uploads/``: otherwise a
rebuild from that folder would bring it back.

The filtering, the selection and the wording of the confirmation are pure functions; ``Desk``
only adds the store.
"""

from __future__ import annotations

import contextlib
import html
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.app.render import count_articles, error_message, format_date, render_notice
from qa.errors import VraagbaakError
from qa.index.store import ArticleInfo, ChunkStore
from qa.text import fold

log = logging.getLogger(__name__)

RemoveArticles = Callable[[Sequence[str]], int]  # article ids -> how many were removed

HEADERS = ["Titel", "Datum", "Bron", "Stukken"]
NOTHING_SELECTED = (
    "Kies eerst een of meer artikelen: klik op een rij in de tabel, of kies ze in de lijst "
    "\u201cTe verwijderen\u201d."
)


# --- pure parts ---------------------------------------------------------------------------------


def title_of(info: ArticleInfo) -> str:
    return info.title.strip() or info.id


def matches(info: ArticleInfo, query: str) -> bool:
    """Whether every word of ``query`` occurs in the article's title, id, source or date
    (case and diacritics ignored)."""
    haystack = fold(" ".join(x for x in (info.title, info.id, info.source, info.date) if x))
    return all(word in haystack for word in fold(query).split())


def filter_articles(infos: Sequence[ArticleInfo], query: str | None) -> list[ArticleInfo]:
    return [info for info in infos if matches(info, query or "")]


def table_rows(infos: Sequence[ArticleInfo]) -> list[list[Any]]:
    """The table's rows: title, date (in Dutch), source, chunks."""
    return [[title_of(i), format_date(i.date), i.source or "", i.chunks] for i in infos]


def count_label(shown: int, total: int) -> str:
    """'61 artikelen', or while searching '3 van 61 artikelen'."""
    if shown == total:
        return count_articles(total)
    return f"{shown} van {count_articles(total)}"


def choice_label(info: ArticleInfo) -> str:
    date = format_date(info.date)
    return title_of(info) + (f" ({date})" if date else "")


def toggle(selected: Sequence[str] | None, article_id: str | None) -> list[str]:
    """The selection after clicking an article: added when it was not in, removed when it was."""
    chosen = list(selected or [])
    if not article_id:
        return chosen
    return [a for a in chosen if a != article_id] if article_id in chosen else [*chosen, article_id]


def delete_question(chosen: Sequence[ArticleInfo]) -> str:
    """The confirmation asked before removing ``chosen`` (escaped HTML)."""
    if len(chosen) == 1:
        head = "Weet je zeker dat je dit artikel wilt verwijderen?"
    else:
        head = f"Weet je zeker dat je deze {len(chosen)} artikelen wilt verwijderen?"
    items = "".join(f"<li>{html.escape(choice_label(i))}</li>" for i in chosen[:20])
    more = f"<li>en {len(chosen) - 20} meer</li>" if len(chosen) > 20 else ""
    return (
        f'<div class="vb-confirm"><p><strong>{head}</strong></p><ul>{items}{more}</ul>'
        "<p>Ze verdwijnen uit de index: de chat gebruikt ze niet meer. Dit kan niet ongedaan "
        "worden gemaakt (voeg het bestand dan opnieuw toe).</p></div>"
    )


def deleted_message(titles: Sequence[str], total: int) -> str:
    names = "; ".join(titles[:10]) + (f" en {len(titles) - 10} meer" if len(titles) > 10 else "")
    return f"{count_articles(len(titles))} verwijderd: {names}. Nu {count_articles(total)}."


# --- the handlers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """The tab's table as shown: its rows, the article id of each row, the count, and the
    choices of the selection list (label, id) for every article."""

    rows: list[list[Any]]
    ids: list[str]
    count: str
    choices: list[tuple[str, str]]
    sources: list[str]


@dataclass(frozen=True)
class DeletePrompt:
    """What the "Verwijderen" button shows: a confirmation, or why there is nothing to ask."""

    message: str  # HTML
    confirm: bool  # whether to show "Ja, verwijderen" / "Annuleren"


class Desk:
    """The Artikelen tab's behaviour over one store, without gradio."""

    def __init__(
        self, store: ChunkStore, *, upload_dir: Path | None = None,
        lock: threading.Lock | None = None, remove: RemoveArticles | None = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.upload_dir = upload_dir
        # app.py passes ingest's remover, which also tells the feeds not to bring them back
        self.remove = remove or store.remove_articles
        self.lock = lock or threading.Lock()  # shared with uploads: one writer at a time

    def articles(self) -> list[ArticleInfo]:
        return self.store.list_articles()

    def listing(self, query: str | None = "") -> Listing:
        everything = self.articles()
        shown = filter_articles(everything, query)
        sources = sorted({i.source for i in everything if i.source})
        return Listing(
            rows=table_rows(shown),
            ids=[i.id for i in shown],
            count=count_label(len(shown), len(everything)),
            choices=[(choice_label(i), i.id) for i in everything],
            sources=sources,
        )

    @staticmethod
    def clicked(selected: Sequence[str] | None, ids: Sequence[str], row: Any) -> list[str]:
        """The selection after a click on row ``row`` of the table as shown."""
        if isinstance(row, (list, tuple)):
            row = row[0] if row else None
        if not isinstance(row, int) or not 0 <= row < len(ids):
            return list(selected or [])
        return toggle(selected, ids[row])

    def ask_delete(self, selected: Sequence[str] | None) -> DeletePrompt:
        """Step 1 of removing: name what would go, and ask."""
        wanted = list(dict.fromkeys(selected or []))
        if not wanted:
            return DeletePrompt(render_notice(NOTHING_SELECTED, kind="error"), confirm=False)
        by_id = {i.id: i for i in self.articles()}
        chosen = [by_id[a] for a in wanted if a in by_id]
        if not chosen:
            return DeletePrompt(
                render_notice("Die artikelen staan al niet meer in de index.", kind="error"),
                confirm=False,
            )
        return DeletePrompt(delete_question(chosen), confirm=True)

    def delete(self, selected: Sequence[str] | None) -> str:
        """Step 2, after "Ja, verwijderen": remove the articles; returns the notice (HTML)."""
        wanted = list(dict.fromkeys(selected or []))
        if not wanted:
            return render_notice(NOTHING_SELECTED, kind="error")
        try:
            with self.lock:
                states = self.store.articles()
                titles = [states[a].title or a if a in states else a for a in wanted]
                self.remove(wanted)
                remaining = self.store.articles()
                still_used = {s.path for s in remaining.values()}
                for path in {states[a].path for a in wanted if a in states} - still_used:
                    self._forget_upload(path)
                total = len(remaining)
        except Exception as err:  # noqa: BLE001 - shown as a Dutch message
            if not isinstance(err, VraagbaakError):
                log.exception("removing articles failed")
            return render_notice(error_message(err), kind="error")
        return render_notice(deleted_message(titles, total))

    def _forget_upload(self, path: str | None) -> None:
        """Remove the uploaded file of removed articles (never anything outside uploads/, and
        only once no article in the index comes from it)."""
        if not path or self.upload_dir is None:
            return
        with contextlib.suppress(OSError, ValueError):
            file = Path(path).resolve()
            if file.is_file() and file.is_relative_to(self.upload_dir.resolve()):
                file.unlink()
