"""Adding articles from the page ("Artikelen toevoegen"), and the sample articles at start-up.

Uploaded files are copied under safe names into ``<index>/uploads/`` (kept beside the index, so
that it can be rebuilt from them) and handed to the ingest function the app was given: ``qa``
never imports ``ingest``; ``app.py`` passes ``ingest.pipeline.ingest_paths`` in.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import threading
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.embeddings import Embeddings

from qa.app.render import error_message, render_notice
from qa.errors import VraagbaakError
from qa.index.store import ChunkStore
from qa.settings import Settings

if TYPE_CHECKING:
    from qa.pipeline import Pipeline

log = logging.getLogger(__name__)

# The formats the ingester reads (ingest.readers.SUFFIXES; a test keeps the two in step).
UPLOAD_TYPES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".csv")


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


# --- pure parts ---------------------------------------------------------------------------------


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


class _NothingIngested:
    added = updated = unchanged = 0
    skipped: Sequence[SkippedFile] = ()
    article_ids: Sequence[str] = ()


_NOTHING = _NothingIngested()


# --- the handler --------------------------------------------------------------------------------


class Uploader:
    """Checks, stages and ingests uploaded files, one upload at a time."""

    def __init__(
        self, pipeline: Pipeline, ingest_files: IngestFiles | None, *,
        settings: Settings | None = None,
    ) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.ingest_files = ingest_files
        self.settings = settings or pipeline.settings
        self.lock = threading.Lock()  # one writer at a time (deleting articles takes it too)

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

        with self.lock:
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


def ensure_sample_index(pipeline: Pipeline, ingest_files: IngestFiles) -> IngestReport | None:
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
