"""Read RSS/Atom feeds, ingest their new items' pages, remember what was done, and keep polling.

One round for one feed (:func:`ingest_feed`):

1. fetch the feed conditionally (``If-None-Match``/``If-Modified-Since`` from last time); a 304
   means nothing changed and ends the round;
2. parse it with feedparser; leave out items published before ``since``, items handled on an
   earlier run (the feed state), and repeats within the feed (the same guid, or the same link
   once tracking parameters and fragment are gone);
3. fetch each remaining item's page (``ingest.web``); the article is named by its canonical URL
   and takes the item's title and date where the page has none; a second item that lands on the
   same canonical URL is a duplicate and is indexed once;
4. write the articles through ``ingest_articles`` (which also tells running apps, through the
   store's generation, that there is something new);
5. only then record each item's outcome and the feed's ETag/Last-Modified in the state file, so
   an interrupted round is redone rather than lost.

Failures are remembered too, so a re-run does not hammer a dead link: a permanent one (HTTP 404,
no HTML, no article text) is never fetched again; a transient one (time-out, 5xx, no connection)
is tried again the next time the feed changes, up to :data:`MAX_ATTEMPTS` times in all.

:func:`watch` repeats rounds every few minutes until Ctrl-C.

What this module does not do: discover a site's feeds from its HTML, follow a feed's paging or
honour its ``<ttl>``, fetch items in parallel, or delete articles that dropped out of a feed.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin

from ingest.pipeline import IngestSummary, ingest_articles
from ingest.readers import Skipped, normalize_date
from ingest.web import (
    FetchError,
    FetchOptions,
    clean_url,
    collect_articles,
    duplicate_reason,
    fetch,
    fetch_article,
    is_http_url,
)
from qa.index.store import date_number
from qa.types import Article

if TYPE_CHECKING:
    import httpx
    from langchain_core.embeddings import Embeddings

    from ingest.web import Failed
    from qa.index.store import ChunkStore
    from qa.settings import Settings

log = logging.getLogger(__name__)

STATE_VERSION = 1
MAX_ATTEMPTS = 3  # tries of an item that keeps failing transiently before it is given up
MAX_ITEMS_KEPT = 5000  # per feed; far more than any feed lists at once

Status = Literal["done", "failed", "retry"]
Say = Callable[[str], None]


# --- the feed ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    key: str  # the guid, else the link: what "seen before" is decided on
    link: str
    title: str | None = None
    date: str | None = None  # ISO, from the item's published (else updated) date


@dataclass(frozen=True)
class Feed:
    title: str | None
    items: tuple[FeedItem, ...]


def parse_feed(body: bytes, *, url: str, content_type: str = "") -> Feed | None:
    """The items of an RSS or Atom document, or None when ``body`` is not a feed."""
    import feedparser

    # A stream, never bytes or str: feedparser opens a str that looks like a URL, and tries any
    # other str or bytes as a file name first.
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-location": url, "content-type": content_type}
    )
    if not parsed.get("version") and not parsed.entries:
        return None
    items = []
    for entry in parsed.entries:
        link = (entry.get("link") or "").strip()
        guid = (entry.get("id") or "").strip()
        if not link and is_http_url(guid):
            link = guid  # RSS <guid isPermaLink="true"> without <link>
        if not link:
            continue
        link = urljoin(url, link)
        items.append(
            FeedItem(
                key=guid or link,
                link=link,
                title=" ".join((entry.get("title") or "").split()) or None,
                date=_entry_date(entry),
            )
        )
    title = " ".join((parsed.feed.get("title") or "").split()) or None
    return Feed(title=title, items=tuple(items))


def _entry_date(entry: Mapping[str, Any]) -> str | None:
    # The raw string first: it keeps the publisher's own calendar day, where feedparser's
    # *_parsed fields are in UTC (a 00:30 +01:00 item would move to the day before).
    for key in ("published", "updated", "created"):
        if date := normalize_date(entry.get(key)):
            return date
    for key in ("published_parsed", "updated_parsed"):
        if parsed := entry.get(key):
            return time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(parsed)))
    return None


def read_feeds_file(path: Path) -> list[str]:
    """Feed URLs from a file: one per line; blank lines and ``#`` comments are ignored."""
    urls = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


# --- the state --------------------------------------------------------------------------------


@dataclass
class ItemRecord:
    status: Status
    article_id: str | None = None  # set when the article is known to be in the index
    attempts: int = 1
    reason: str | None = None


@dataclass
class FeedRecord:
    etag: str | None = None
    last_modified: str | None = None
    since: str | None = None  # the --since that left items out last time, if any
    items: dict[str, ItemRecord] = field(default_factory=dict)


def state_path(settings: Settings) -> Path:
    """Beside the index in a folder; in server mode a local file per server and collection."""
    if settings.chroma_url:
        tag = hashlib.sha1(f"{settings.chroma_url}|{settings.collection}".encode()).hexdigest()
        return settings.model_cache / "feeds" / f"{tag[:12]}.json"
    return settings.index_dir / f"feeds-{settings.collection}.json"


class FeedState:
    """What was done with each feed and its items, kept in a small JSON file."""

    def __init__(self, path: Path, feeds: dict[str, FeedRecord] | None = None) -> None:
        self.path = path
        self.feeds = feeds or {}

    @classmethod
    def load(cls, path: Path) -> FeedState:
        """The state in ``path``; a missing or unreadable file is an empty state (the cost is one
        round that fetches every item again, which ingest's idempotence makes harmless)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") != STATE_VERSION:
                raise ValueError(f"version {raw.get('version')!r}, expected {STATE_VERSION}")
            feeds = {
                url: FeedRecord(
                    etag=rec.get("etag"),
                    last_modified=rec.get("last_modified"),
                    since=rec.get("since"),
                    items={k: ItemRecord(**v) for k, v in rec.get("items", {}).items()},
                )
                for url, rec in raw.get("feeds", {}).items()
            }
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, TypeError, AttributeError) as err:
            log.warning("feed state %s unreadable (%s); starting afresh", path, err)
            return cls(path)
        return cls(path, feeds)

    def feed(self, url: str) -> FeedRecord:
        return self.feeds.setdefault(url, FeedRecord())

    def save(self) -> None:
        """Write atomically (temp file + rename): a crash leaves the old state or the new one."""
        for record in self.feeds.values():
            while len(record.items) > MAX_ITEMS_KEPT:
                record.items.pop(next(iter(record.items)))
        data = {"version": STATE_VERSION, "feeds": {u: asdict(r) for u, r in self.feeds.items()}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".feeds-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False, indent=1)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def forget_missing(self, in_index: set[str]) -> int:
        """Forget items whose article is no longer in the index (it was reset or emptied by
        other means), and their feeds' validators, so the next round fetches them again."""
        forgotten = 0
        for record in self.feeds.values():
            gone = [
                k
                for k, item in record.items.items()
                if item.article_id is not None and item.article_id not in in_index
            ]
            for key in gone:
                del record.items[key]
            if gone:
                record.etag = record.last_modified = None
                forgotten += len(gone)
        return forgotten


# --- a round ----------------------------------------------------------------------------------


def ingest_feeds(
    feed_urls: Sequence[str], *, client: httpx.Client, options: FetchOptions, state: FeedState,
    store: ChunkStore, embeddings: Embeddings, settings: Settings, since: str | None = None,
    say: Say | None = None, note_unchanged: bool = True,
) -> IngestSummary:  # fmt: skip
    """One round over every feed; the state is saved after each feed."""
    in_index = set(store.articles())
    if forgotten := state.forget_missing(in_index):
        log.warning("%d feed items no longer in the index; fetching them again", forgotten)
    total = IngestSummary()
    for url in feed_urls:
        summary = ingest_feed(
            url, client=client, options=options, state=state, store=store, embeddings=embeddings,
            settings=settings, since=since, in_index=in_index, say=say,
            note_unchanged=note_unchanged,
        )  # fmt: skip
        merge_summary(total, summary)
        state.save()
    total.chunks = store.count()
    return total


def ingest_feed(
    url: str, *, client: httpx.Client, options: FetchOptions, state: FeedState,
    store: ChunkStore, embeddings: Embeddings, settings: Settings, since: str | None = None,
    in_index: set[str] | None = None, say: Say | None = None, note_unchanged: bool = True,
) -> IngestSummary:  # fmt: skip
    """One round for one feed (steps 1-5 above). The caller saves ``state``."""
    say = say or (lambda _message: None)
    in_index = set(store.articles()) if in_index is None else in_index
    summary = IngestSummary()
    record = state.feed(url)

    # 1. fetch, conditionally unless this run reaches further back than the last one did
    reaches_further = record.since is not None and (
        since is None or date_number(since, low=True) < date_number(record.since, low=True)
    )
    headers = {}
    if not reaches_further:
        if record.etag:
            headers["If-None-Match"] = record.etag
        if record.last_modified:
            headers["If-Modified-Since"] = record.last_modified
    try:
        page = fetch(client, url, options, headers=headers)
    except FetchError as err:
        say(f"{url}: {err.reason}")
        summary.skipped.append(Skipped(url, f"feed niet opgehaald: {err.reason}"))
        return summary
    if page.status == 304:
        say(f"{url}: ongewijzigd")
        if note_unchanged:
            summary.notes.append(Skipped(url, "feed ongewijzigd sinds de vorige keer (HTTP 304)"))
        return summary
    feed = parse_feed(page.body, url=page.final_url, content_type=page.content_type)
    if feed is None:
        summary.skipped.append(Skipped(url, "geen RSS- of Atom-feed"))
        return summary

    # 2. what is new
    todo, repeats, left_out = _new_items(feed.items, record, since)
    summary.skipped.extend(Skipped(item.link, reason) for item, reason in repeats)
    if left_out:
        summary.notes.append(Skipped(url, f"{left_out} item(s) van vóór {since} genegeerd"))
    say(f"{url}: {len(todo)} nieuw van {len(feed.items)}")

    # 3. fetch the pages
    results: list[tuple[FeedItem, Article | Failed]] = []
    for item in todo:
        result = fetch_article(
            client, item.link, options, fallback_title=item.title, fallback_date=item.date,
            fallback_source=feed.title,
        )  # fmt: skip
        results.append((item, result))
    articles, skipped = collect_articles((item.link, result) for item, result in results)

    # 4. write
    summary.skipped.extend(skipped)
    if articles:
        written = ingest_articles(articles, store=store, embeddings=embeddings, settings=settings)
        merge_summary(summary, written)
        in_index.update(written.article_ids)

    # 5. remember
    for item, result in results:
        if isinstance(result, Article):
            known = result.id if result.id in in_index else None
            record.items[item.key] = ItemRecord("done", article_id=known)
        else:
            _record_failure(record, item.key, result.reason, transient=result.transient)
    for item, _reason in repeats:
        record.items[item.key] = ItemRecord("done")
    record.etag, record.last_modified = page.etag, page.last_modified
    record.since = since if left_out else None
    return summary


def _new_items(
    items: Sequence[FeedItem], record: FeedRecord, since: str | None
) -> tuple[list[FeedItem], list[tuple[FeedItem, str]], int]:
    """(items to fetch, repeats of an item to fetch with the reason, how many ``since`` left
    out)."""
    todo: list[FeedItem] = []
    repeats: list[tuple[FeedItem, str]] = []
    left_out = 0
    keys: set[str] = set()
    links: set[str] = set()
    for item in items:
        if item.key in keys:
            continue  # the same guid twice in one feed: one item
        keys.add(item.key)
        if since and item.date and date_number(item.date, low=False) < date_number(since, low=True):
            left_out += 1
            continue
        done = record.items.get(item.key)
        if done and (done.status != "retry" or done.attempts >= MAX_ATTEMPTS):
            continue
        link = clean_url(item.link)
        if link in links:
            repeats.append((item, duplicate_reason(link)))
        else:
            links.add(link)
            todo.append(item)
    return todo, repeats, left_out


def _record_failure(record: FeedRecord, key: str, reason: str, *, transient: bool) -> None:
    before = record.items.get(key)
    attempts = (before.attempts + 1) if before and before.status == "retry" else 1
    status: Status = "retry" if transient and attempts < MAX_ATTEMPTS else "failed"
    record.items[key] = ItemRecord(status, attempts=attempts, reason=reason)


def merge_summary(into: IngestSummary, more: IngestSummary) -> IngestSummary:
    """Add ``more``'s counts and lists to ``into`` (the chunk total is the latest one)."""
    into.added += more.added
    into.updated += more.updated
    into.unchanged += more.unchanged
    into.pruned += more.pruned
    into.skipped.extend(more.skipped)
    into.notes.extend(more.notes)
    into.new_chunks += more.new_chunks
    into.article_ids.extend(more.article_ids)
    into.chunks = more.chunks or into.chunks
    return into


# --- keeping it fresh -------------------------------------------------------------------------


def watch(
    run_round: Callable[[], IngestSummary], *, interval_s: float,
    on_round: Callable[[int, IngestSummary], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[IngestSummary, int]:  # fmt: skip
    """Run rounds every ``interval_s`` seconds until Ctrl-C; returns (the total, rounds run).

    Ctrl-C during a round ends the watch too: what that round had written stays in the index
    (and is picked up again next time, as its feed state was not saved), but is not counted.
    """
    if interval_s <= 0:
        raise ValueError(f"the watch interval must be > 0, got {interval_s!r}")
    total = IngestSummary()
    rounds = 0
    try:
        while True:
            summary = run_round()
            rounds += 1
            merge_summary(total, summary)
            if on_round:
                on_round(rounds, summary)
            sleep(interval_s)
    except KeyboardInterrupt:
        pass
    return total, rounds
