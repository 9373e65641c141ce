"""Read RSS/Atom feeds, ingest their new items' pages, remember what was done, and keep polling.

One round for one feed (:func:`ingest_feed`):

1. fetch the feed conditionally (``If-None-Match``/``If-Modified-Since`` from last time, unless
   a failed item is due for another try); a 304 means nothing changed and ends the round;
2. parse it with feedparser; leave out items published before ``since``, items handled on an
   earlier run (the feed state), items whose back-off still runs (reported as deferred), and
   repeats within the feed (the same guid, or the same link once tracking parameters and
   fragment are gone);
3. fetch each remaining item's page (``ingest.web``); the article is named by its canonical URL
   and takes the item's title and date where the page has none; a second item that lands on the
   same canonical URL is a duplicate and is indexed once; an article a person removed is not;
4. write the articles through ``ingest_articles`` (which also tells running apps, through the
   store's generation, that there is something new);
5. only then record each item's outcome and the feed's ETag/Last-Modified in the state file, so
   an interrupted round is redone rather than lost.

Failures are remembered with a back-off, so that a re-run neither hammers a dead link nor waits
for it again: after a transient failure (time-out, 5xx, no connection) an item is tried again
after :data:`RETRY_FIRST_S`, doubling with each failure up to :data:`RETRY_MAX_S`; after a
permanent one (HTTP 404/410, no HTML, no article text) after :data:`RETRY_PERMANENT_S` (a page
is sometimes listed before it is published). After :data:`MAX_ATTEMPTS` tries in all, or once
the feed no longer lists it, an item is given up. Articles a person removed (``python -m ingest
--remove``) are remembered as removed, and a feed never brings them back.

:func:`watch` repeats rounds every few minutes until Ctrl-C.

What this module does not do: discover a site's feeds from its HTML, follow a feed's paging or
honour its ``<ttl>`` or ``Retry-After``, fetch items in parallel, or delete articles that
dropped out of a feed.
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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin

from ingest.pipeline import Deferred, IngestSummary, ingest_articles
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
from qa.errors import VraagbaakError
from qa.index.store import date_number
from qa.types import Article

if TYPE_CHECKING:
    import httpx
    from langchain_core.embeddings import Embeddings

    from ingest.web import Failed
    from qa.index.store import ChunkStore
    from qa.settings import Settings

log = logging.getLogger(__name__)

STATE_VERSION = 1  # version 1 files without back-off times or removals load as they are
MAX_ATTEMPTS = 10  # tries of an item that keeps failing before it is given up
RETRY_FIRST_S = 15 * 60  # after the first transient failure; doubles with each one after it
RETRY_MAX_S = 24 * 3600  # the longest back-off after a transient failure
RETRY_PERMANENT_S = 24 * 3600  # after a 404, a page that is not HTML or holds no article text
MAX_ITEMS_KEPT = 5000  # per feed; far more than any feed lists at once

# done: handled (ingested, or a duplicate); retry: failed, to be tried again from ``retry_at``;
# failed: given up; removed: its article was removed by a person and must not come back.
Status = Literal["done", "failed", "retry", "removed"]
Say = Callable[[str], None]
Clock = Callable[[], float]  # seconds since the epoch, like time.time


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
    reason: str | None = None  # why the last try failed
    retry_at: str | None = None  # "retry": not before this time (ISO 8601, UTC); None: at once
    link: str | None = None  # a failed item's link, to name it when the feed is not read

    def due(self, now: float) -> bool:
        """A failed item whose back-off has run out."""
        return self.status == "retry" and (self.retry_at is None or _epoch(self.retry_at) <= now)


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

    def __init__(
        self, path: Path, feeds: dict[str, FeedRecord] | None = None,
        removed: Iterable[str] = (),
    ) -> None:  # fmt: skip
        self.path = path
        self.feeds = feeds or {}
        self.removed = set(removed)  # ids of articles a person removed from the index

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
                    items={k: _item_record(v) for k, v in rec.get("items", {}).items()},
                )
                for url, rec in raw.get("feeds", {}).items()
            }
            removed = [str(article_id) for article_id in raw.get("removed", [])]
        except FileNotFoundError:
            return cls(path)
        except (OSError, ValueError, TypeError, AttributeError) as err:
            log.warning("feed state %s unreadable (%s); starting afresh", path, err)
            return cls(path)
        return cls(path, feeds, removed)

    def feed(self, url: str) -> FeedRecord:
        return self.feeds.setdefault(url, FeedRecord())

    def save(self) -> None:
        """Write atomically (temp file + rename): a crash leaves the old state or the new one.

        Removals saved by another process meanwhile (``--remove`` while ``--watch`` runs) are
        kept, not overwritten."""
        self.catch_up_removed()
        for record in self.feeds.values():
            while len(record.items) > MAX_ITEMS_KEPT:
                record.items.pop(next(iter(record.items)))
        data = {
            "version": STATE_VERSION,
            "feeds": {u: _record_json(r) for u, r in self.feeds.items()},
            "removed": sorted(self.removed),
        }
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
        other means than ``--remove``), and their feeds' validators, so the next round fetches
        them again."""
        forgotten = 0
        for record in self.feeds.values():
            gone = [
                k
                for k, item in record.items.items()
                if item.article_id is not None
                and item.article_id not in in_index
                and item.status != "removed"
            ]
            for key in gone:
                del record.items[key]
            if gone:
                record.etag = record.last_modified = None
                forgotten += len(gone)
        return forgotten

    def catch_up_removed(self) -> None:
        """Take in the removals another process saved since this state was read."""
        if self.path.exists():
            self.mark_removed(FeedState.load(self.path).removed)

    def mark_removed(self, article_ids: Iterable[str]) -> None:
        """Remember that a person removed these articles: no feed round brings them back."""
        ids = set(article_ids)
        self.removed |= ids
        for record in self.feeds.values():
            for item in record.items.values():
                if item.article_id in ids:
                    item.status = "removed"


def _item_record(raw: dict[str, Any]) -> ItemRecord:
    # Keys a later version may add are left out rather than making the whole file unreadable.
    item = ItemRecord(**{k: v for k, v in raw.items() if k in ItemRecord.__dataclass_fields__})
    try:
        if item.retry_at is not None:
            _epoch(item.retry_at)
    except (TypeError, ValueError):
        item.retry_at = None  # a time that cannot be read: due at once
    return item


def _record_json(record: FeedRecord) -> dict[str, Any]:
    data = asdict(record)
    data["items"] = {
        key: {k: v for k, v in asdict(item).items() if v is not None}
        for key, item in record.items.items()
    }
    return data


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _epoch(iso: str) -> float:
    when = datetime.fromisoformat(iso)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def remove_articles(ids: Sequence[str], *, store: ChunkStore, settings: Settings) -> int:
    """Take articles out of the index (``ChunkStore.remove_articles``: all or nothing, raises
    ``UnknownArticleError``) and remember them as removed, so that no feed brings them back.
    Returns how many were removed. ``python -m ingest --remove`` uses it; an app can too."""
    removed = store.remove_articles(ids)
    state = FeedState.load(state_path(settings))
    state.mark_removed(ids)
    try:
        state.save()
    except OSError as err:
        raise VraagbaakError(
            f"Verwijderd uit de index, maar de feedstatus ({state.path}) kon niet worden "
            f"bijgewerkt ({err.strerror or err}); een feed kan het artikel terugbrengen."
        ) from err
    return removed


# --- a round ----------------------------------------------------------------------------------


def ingest_feeds(
    feed_urls: Sequence[str], *, client: httpx.Client, options: FetchOptions, state: FeedState,
    store: ChunkStore, embeddings: Embeddings, settings: Settings, since: str | None = None,
    say: Say | None = None, note_unchanged: bool = True, clock: Clock = time.time,
) -> IngestSummary:  # fmt: skip
    """One round over every feed; the state is saved after each feed."""
    state.catch_up_removed()  # a person may have removed articles since the last round
    in_index = set(store.articles())
    if forgotten := state.forget_missing(in_index):
        log.warning("%d feed items no longer in the index; fetching them again", forgotten)
    total = IngestSummary()
    for url in feed_urls:
        summary = ingest_feed(
            url, client=client, options=options, state=state, store=store, embeddings=embeddings,
            settings=settings, since=since, in_index=in_index, say=say,
            note_unchanged=note_unchanged, clock=clock,
        )  # fmt: skip
        merge_summary(total, summary)
        state.save()
    total.chunks = store.count()
    return total


def ingest_feed(
    url: str, *, client: httpx.Client, options: FetchOptions, state: FeedState,
    store: ChunkStore, embeddings: Embeddings, settings: Settings, since: str | None = None,
    in_index: set[str] | None = None, say: Say | None = None, note_unchanged: bool = True,
    clock: Clock = time.time,
) -> IngestSummary:  # fmt: skip
    """One round for one feed (steps 1-5 above). The caller saves ``state``."""
    say = say or (lambda _message: None)
    in_index = set(store.articles()) if in_index is None else in_index
    summary = IngestSummary()
    record = state.feed(url)
    now = clock()

    # 1. fetch, conditionally unless this run reaches further back than the last one did, or an
    #    item is due for another try (a 304 would hide it)
    reaches_further = record.since is not None and (
        since is None or date_number(since, low=True) < date_number(record.since, low=True)
    )
    retry_due = any(item.due(now) for item in record.items.values())
    headers = {}
    if not (reaches_further or retry_due):
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
        summary.read += 1
        say(f"{url}: ongewijzigd")
        if note_unchanged:
            summary.notes.append(Skipped(url, "feed ongewijzigd sinds de vorige keer (HTTP 304)"))
        # The feed is as it was, so every item still waiting for its back-off is still in it.
        summary.deferred.extend(
            _deferred(item.link or key, item) for key, item in record.items.items()
            if item.status == "retry"
        )  # fmt: skip
        return summary
    feed = parse_feed(page.body, url=page.final_url, content_type=page.content_type)
    if feed is None:
        summary.skipped.append(Skipped(url, "geen RSS- of Atom-feed"))
        return summary
    summary.read += 1

    # 2. what is new
    todo, repeats, waiting, left_out = _new_items(feed.items, record, since, now)
    summary.skipped.extend(Skipped(item.link, reason) for item, reason in repeats)
    summary.deferred.extend(_deferred(item.link, record.items[item.key]) for item in waiting)
    if left_out:
        summary.notes.append(Skipped(url, f"{left_out} item(s) van vóór {since} genegeerd"))
    later = f", {len(waiting)} later opnieuw" if waiting else ""
    say(f"{url}: {len(todo)} nieuw van {len(feed.items)}{later}")

    # 3. fetch the pages
    results: list[tuple[FeedItem, Article | Failed]] = []
    for item in todo:
        result = fetch_article(
            client, item.link, options, fallback_title=item.title, fallback_date=item.date,
            fallback_source=feed.title,
        )  # fmt: skip
        results.append((item, result))
    articles, skipped = collect_articles((item.link, result) for item, result in results)
    for article in articles:
        if article.id in state.removed:
            summary.notes.append(Skipped(article.id, "eerder verwijderd; niet opnieuw opgenomen"))
    articles = [a for a in articles if a.id not in state.removed]

    # 4. write
    summary.skipped.extend(skipped)
    if articles:
        written = ingest_articles(articles, store=store, embeddings=embeddings, settings=settings)
        merge_summary(summary, written)
        in_index.update(written.article_ids)

    # 5. remember
    for item, result in results:
        if isinstance(result, Article) and result.id in state.removed:
            record.items[item.key] = ItemRecord("removed", article_id=result.id)
        elif isinstance(result, Article):
            known = result.id if result.id in in_index else None
            record.items[item.key] = ItemRecord("done", article_id=known)
        else:
            _record_failure(record, item, result.reason, transient=result.transient, now=now)
    for item, _reason in repeats:
        record.items[item.key] = ItemRecord("done")
    _give_up_unlisted(record, {item.key for item in feed.items})
    record.etag, record.last_modified = page.etag, page.last_modified
    record.since = since if left_out else None
    return summary


def _new_items(
    items: Sequence[FeedItem], record: FeedRecord, since: str | None, now: float
) -> tuple[list[FeedItem], list[tuple[FeedItem, str]], list[FeedItem], int]:
    """(items to fetch, repeats of an item to fetch with the reason, failed items whose back-off
    still runs, how many ``since`` left out)."""
    todo: list[FeedItem] = []
    repeats: list[tuple[FeedItem, str]] = []
    waiting: list[FeedItem] = []
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
        if done and not done.due(now):
            waiting.append(item)
            continue
        link = clean_url(item.link)
        if link in links:
            repeats.append((item, duplicate_reason(link)))
        else:
            links.add(link)
            todo.append(item)
    return todo, repeats, waiting, left_out


def _record_failure(
    record: FeedRecord, item: FeedItem, reason: str, *, transient: bool, now: float
) -> None:
    """Remember a failed try, and when to try again (the back-off described above)."""
    before = record.items.get(item.key)
    attempts = (before.attempts + 1) if before and before.status == "retry" else 1
    if attempts >= MAX_ATTEMPTS:
        record.items[item.key] = ItemRecord("failed", attempts=attempts, reason=reason,
                                            link=item.link)  # fmt: skip
        return
    if transient:
        delay = min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_MAX_S)
    else:
        delay = RETRY_PERMANENT_S
    record.items[item.key] = ItemRecord(
        "retry", attempts=attempts, reason=reason, retry_at=_iso(now + delay), link=item.link
    )


def _give_up_unlisted(record: FeedRecord, listed: set[str]) -> None:
    """A failed item the feed no longer lists will not be tried again (and would otherwise keep
    the feed from being fetched conditionally)."""
    for key, item in record.items.items():
        if item.status == "retry" and key not in listed:
            item.status, item.retry_at = "failed", None


def _deferred(link: str, item: ItemRecord) -> Deferred:
    return Deferred(link, item.reason or "mislukt", retry_at=item.retry_at or "")


def merge_summary(into: IngestSummary, more: IngestSummary) -> IngestSummary:
    """Add ``more``'s counts and lists to ``into`` (the chunk total is the latest one)."""
    into.added += more.added
    into.updated += more.updated
    into.unchanged += more.unchanged
    into.pruned += more.pruned
    into.skipped.extend(more.skipped)
    into.notes.extend(more.notes)
    into.deferred.extend(more.deferred)
    into.new_chunks += more.new_chunks
    into.article_ids.extend(more.article_ids)
    into.read += more.read
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
            total.deferred = list(summary.deferred)  # what waits now, not in every round
            if on_round:
                on_round(rounds, summary)
            sleep(interval_s)
    except KeyboardInterrupt:
        pass
    return total, rounds
