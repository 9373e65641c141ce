"""``python -m ingest PATH_OR_URL... --index DIR``, ``--feed URL``: the ingestion command.

Files and folders are read from disk; ``http(s)://`` arguments are fetched as article pages;
``--feed``/``--feeds-file`` name RSS/Atom feeds whose new items are fetched (``ingest.feeds``),
once, or every N minutes with ``--watch`` until Ctrl-C. ``--list`` shows the index's articles and
``--remove ID...`` takes articles out (of the index, and for good out of the feeds' reach);
neither needs the embedding model.

Settings come from ``VRAAGBAAK_*`` variables, then flags. Domain errors end as one clear line on
stderr; bad files and pages are skipped with their reasons and never stop the rest. The exit
codes are in :data:`EXIT_CODES` (shown by ``--help``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.runtime import prepare_environment

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from ingest.feeds import Clock, FeedState
    from ingest.pipeline import Deferred, IngestSummary
    from ingest.web import FetchOptions
    from qa.index.store import ArticleInfo, ChunkStore
    from qa.settings import Settings

EXIT_CODES = """\
exit codes:
  0    the run did its job: articles added or updated, or nothing new; single files, pages
       or feed items that failed are listed with their reason, not fatal
  1    nothing could be done: no feed, page or file could be read, or the index is unusable
       (cannot be opened, built with other settings, Chroma server unreachable)
  2    usage error: bad flags, or an article id for --remove that the index does not hold
  130  interrupted (Ctrl-C), except with --watch, where Ctrl-C is the normal way to stop
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Add Dutch articles (files, folders, URLs, feeds) to the Vraagbaak index, "
        "list them, or remove them.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", help="files or folders (recursively), or article URLs")
    p.add_argument("--index", type=Path, help="index folder (VRAAGBAAK_INDEX)")
    p.add_argument("--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000")
    p.add_argument("--collection", help="collection name (default: vraagbaak)")
    p.add_argument("--model", dest="embedding_model", help="embedding model: id or folder")
    p.add_argument("--chunk-tokens", type=int, help="chunk size in model tokens (default 160)")
    p.add_argument("--max-file-mb", type=float, help="skip files larger than this (default 20)")
    p.add_argument("--reset", action="store_true", help="delete the index first and rebuild")
    p.add_argument("--prune", action="store_true", help="drop articles whose files are gone")
    web = p.add_argument_group("web pages and feeds")
    web.add_argument("--feed", action="append", default=[], metavar="URL",
                     help="an RSS/Atom feed whose new items are fetched (repeatable)")  # fmt: skip
    web.add_argument("--feeds-file", type=Path, metavar="FILE",
                     help="feed URLs, one per line (# starts a comment)")  # fmt: skip
    web.add_argument("--since", metavar="DATE",
                     help="ignore feed items published before DATE (YYYY-MM-DD)")  # fmt: skip
    web.add_argument("--watch", type=float, metavar="MINUTES",
                     help="poll the feeds every MINUTES until Ctrl-C")  # fmt: skip
    web.add_argument("--timeout", type=float, metavar="S",
                     help="read time-out per page in seconds (default 15)")  # fmt: skip
    web.add_argument("--retries", type=int, metavar="N",
                     help="extra tries after a time-out or server error (default 2)")  # fmt: skip
    web.add_argument("--max-page-mb", type=float, metavar="MB",
                     help="skip pages larger than this (default 5)")  # fmt: skip
    held = p.add_argument_group("the index's articles").add_mutually_exclusive_group()
    held.add_argument("--list", action="store_true",
                      help="list every article: id, title, date, source, URL, chunks")  # fmt: skip
    held.add_argument("--remove", nargs="+", metavar="ID",
                      help="remove these articles (ids as --list shows them); feeds will not "
                      "bring them back")  # fmt: skip
    p.add_argument("--json", action="store_true",
                   help="print the summary (or the list) as JSON (last line)")  # fmt: skip
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return p


def main(argv: list[str] | None = None, *, clock: Clock = time.time) -> int:
    """The command; returns its exit code. ``clock`` decides when failed feed items are due."""
    prepare_environment()
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from ingest.feeds import FeedState, read_feeds_file, state_path
    from ingest.pipeline import IngestSummary, index_spec, ingest_paths
    from ingest.web import is_http_url
    from qa.errors import VraagbaakError
    from qa.index.embeddings import load_embeddings
    from qa.index.store import open_store

    # 0. listing or removing articles: nothing to read, no model to load
    if args.list or args.remove:
        if args.paths or args.feed or args.feeds_file or args.reset or args.prune or (
            args.watch is not None or args.since
        ):  # fmt: skip
            print("Fout: --list en --remove gaan niet samen met bestanden, URL's, feeds, "
                  "--reset, --prune of --watch.", file=sys.stderr)  # fmt: skip
            return 2
        return _list_or_remove(args)

    # 1. what to ingest, and how: every flag is checked before anything heavy is loaded
    urls = [p for p in args.paths if is_http_url(p)]
    files = [Path(p) for p in args.paths if not is_http_url(p)]
    feeds = list(args.feed)
    try:
        if args.feeds_file is not None:
            feeds += read_feeds_file(args.feeds_file)
        since = _since(args.since)
        options = _fetch_options(args)
        if args.watch is not None and args.watch <= 0:
            raise ValueError(f"--watch moet meer dan 0 minuten zijn, niet {args.watch:g}")
    except OSError as err:
        print(f"Fout: kan {args.feeds_file} niet lezen: {err.strerror or err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    if not (files or urls or feeds):
        print("Geef minstens één bestand, map, URL of feed op.", file=sys.stderr)
        return 2
    if args.watch is not None and not feeds:
        print("Fout: --watch werkt alleen met --feed of --feeds-file.", file=sys.stderr)
        return 2

    say = _say if not args.quiet else None
    summary = IngestSummary()
    try:
        # 2. open the index
        settings = _settings(args)
        embeddings = load_embeddings(settings)
        store = open_store(
            settings, index_spec(settings, embeddings), for_writing=True, reset=args.reset
        )
        if args.reset:  # the index is gone, so what the feeds' state says was done is undone
            state_path(settings).unlink(missing_ok=True)
        state = FeedState.load(state_path(settings))

        # 3. files, then article URLs, then feeds (once, or until Ctrl-C)
        if files:
            with _progress_bar(enabled=not args.quiet and sys.stderr.isatty()) as progress:
                summary = ingest_paths(
                    files, store=store, embeddings=embeddings, settings=settings,
                    prune=args.prune, progress=progress,
                )  # fmt: skip
        if urls or feeds:
            summary = _ingest_web(
                summary, urls, feeds, watch_minutes=args.watch, options=options, since=since,
                state=state, store=store, embeddings=embeddings, settings=settings, say=say,
                clock=clock,
            )  # fmt: skip
    except VraagbaakError as err:  # the index (or the model) cannot be used
        print(f"Fout: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Onderbroken; wat al geschreven was, blijft staan. Draai opnieuw om af te maken.",
              file=sys.stderr)  # fmt: skip
        return 130

    _print_summary(summary, as_json=args.json, now=clock())
    # Failed items are reported, not fatal; only a run that could read nothing at all fails.
    return 1 if summary.read == 0 and summary.skipped else 0


def _settings(args: argparse.Namespace) -> Settings:
    from qa.settings import Settings

    return Settings.from_env().replace(
        index_dir=args.index, chroma_url=args.chroma_url, collection=args.collection,
        embedding_model=args.embedding_model, chunk_tokens=args.chunk_tokens,
        max_file_mb=args.max_file_mb,
    )  # fmt: skip


def _list_or_remove(args: argparse.Namespace) -> int:
    """``--list`` or ``--remove``: the index as it was built (no model needed)."""
    from ingest.feeds import remove_articles
    from qa.errors import UnknownArticleError, VraagbaakError
    from qa.index.store import open_store, recorded_spec

    try:
        settings = _settings(args)
        store = open_store(settings, recorded_spec(settings), for_writing=bool(args.remove))
        if args.list:
            _print_articles(store.list_articles(), as_json=args.json)
            return 0
        remove_articles(args.remove, store=store, settings=settings)  # all or nothing
    except UnknownArticleError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    except VraagbaakError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"Fout: {err}", file=sys.stderr)
        return 2
    removed = list(dict.fromkeys(args.remove))
    if args.json:
        print(json.dumps({"removed": removed}, ensure_ascii=False))
    else:
        print(f"Verwijderd: {len(removed)} artikel(en)")
        for article_id in removed:
            print(f"  {article_id}")
    return 0


def _print_articles(articles: Sequence[ArticleInfo], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"articles": [asdict(a) for a in articles]}, ensure_ascii=False))
        return
    if not articles:
        print("De index bevat geen artikelen.")
        return
    rows = [("Datum", "Chunks", "Bron", "Titel", "Id", "URL")]
    rows += [
        (a.date or "-", str(a.chunks), _cut(a.source or "-", 28), _cut(a.title or "-", 60), a.id,
         a.url if a.url and a.url != a.id else "")
        for a in articles
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            cell.rjust(width) if i == 1 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    chunks = sum(a.chunks for a in articles)
    print(f"{len(articles)} artikel(en), {chunks} chunks")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _ingest_web(
    summary: IngestSummary, urls: list[str], feeds: list[str], *, watch_minutes: float | None,
    options: FetchOptions, since: str | None, state: FeedState, store: ChunkStore,
    embeddings: Embeddings, settings: Settings, say: Callable[[str], None] | None, clock: Clock,
) -> IngestSummary:  # fmt: skip
    """Article URLs once, then the feeds: one round, or rounds until Ctrl-C with ``--watch``."""
    from ingest.feeds import ingest_feeds, merge_summary, watch
    from ingest.web import ingest_urls, open_client

    with open_client(options) as client:
        if urls:
            merge_summary(summary, ingest_urls(
                urls, client=client, options=options, store=store, embeddings=embeddings,
                settings=settings,
            ))  # fmt: skip
        if not feeds:
            return summary

        def one_round() -> IngestSummary:
            return ingest_feeds(
                feeds, client=client, options=options, state=state, store=store,
                embeddings=embeddings, settings=settings, since=since, say=say,
                note_unchanged=watch_minutes is None, clock=clock,
            )  # fmt: skip

        if watch_minutes is None:
            return merge_summary(summary, one_round())

        def on_round(n: int, got: IngestSummary) -> None:
            if say:
                say(f"[{time.strftime('%H:%M:%S')}] ronde {n}: toegevoegd {got.added}, "
                    f"bijgewerkt {got.updated}, overgeslagen {len(got.skipped)}; volgende over "
                    f"{watch_minutes:g} min (Ctrl-C stopt)")  # fmt: skip

        total, rounds = watch(one_round, interval_s=watch_minutes * 60, on_round=on_round)
        print(f"Gestopt na {rounds} ronde(s).", file=sys.stderr, flush=True)
        merge_summary(summary, total)
        summary.chunks = store.count()
        return summary


def _since(value: str | None) -> str | None:
    from ingest.readers import normalize_date

    if value is None:
        return None
    date = normalize_date(value)
    if date is None:
        raise ValueError(f"--since verwacht een datum zoals 2025-03-01, niet {value!r}")
    return date


def _fetch_options(args: argparse.Namespace) -> FetchOptions:
    from ingest.web import FetchOptions

    default = FetchOptions()
    if args.timeout is not None and args.timeout <= 0:
        raise ValueError(f"--timeout moet meer dan 0 seconden zijn, niet {args.timeout:g}")
    if args.retries is not None and args.retries < 0:
        raise ValueError(f"--retries moet 0 of meer zijn, niet {args.retries}")
    if args.max_page_mb is not None and args.max_page_mb <= 0:
        raise ValueError(f"--max-page-mb moet meer dan 0 zijn, niet {args.max_page_mb:g}")
    timeout = default.read_timeout_s if args.timeout is None else args.timeout
    return FetchOptions(
        connect_timeout_s=min(default.connect_timeout_s, timeout),
        read_timeout_s=timeout,
        retries=default.retries if args.retries is None else args.retries,
        max_bytes=default.max_bytes if args.max_page_mb is None else int(args.max_page_mb * 1e6),
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _progress_bar:  # noqa: N801 - used as a context manager
    """A tqdm bar counting articles, with the chunk count alongside; silent when not a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return None
        from tqdm import tqdm

        def update(p):  # type: ignore[no-untyped-def]
            if self.bar is None:
                self.bar = tqdm(total=p.articles_total, unit="artikel", file=sys.stderr)
            self.bar.n = p.articles_done
            self.bar.set_postfix(chunks=p.chunks_done, refresh=False)
            self.bar.refresh()

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_summary(summary: IngestSummary, *, as_json: bool, now: float) -> None:
    lines = [
        f"Toegevoegd: {summary.added}, bijgewerkt: {summary.updated}, "
        f"ongewijzigd: {summary.unchanged}, overgeslagen: {len(summary.skipped)}"
        + (f", later opnieuw: {len(summary.deferred)}" if summary.deferred else "")
        + (f", verwijderd: {summary.pruned}" if summary.pruned else ""),
        f"Chunks in de index: {summary.chunks}",
    ]
    for s in summary.skipped:
        lines.append(f"  overgeslagen: {s.path}: {s.reason}")
    for d in summary.deferred:
        lines.append(f"  {deferred_label(d, now=now)}: {d.path}: {d.reason}")
    for n in summary.notes:
        lines.append(f"  let op: {n.path}: {n.reason}")
    print("\n".join(lines), file=sys.stderr if as_json else sys.stdout)
    if as_json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))


def deferred_label(item: Deferred, *, now: float) -> str:
    """'overgeslagen (opnieuw proberen na 10:45)', in local time; with the date when not today."""
    if not item.retry_at:
        return "overgeslagen (opnieuw proberen bij de volgende run)"
    when = datetime.fromisoformat(item.retry_at).astimezone()
    today = datetime.fromtimestamp(now).astimezone().date()
    shown = when.strftime("%H:%M" if when.date() == today else "%Y-%m-%d %H:%M")
    return f"overgeslagen (opnieuw proberen na {shown})"
