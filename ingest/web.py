"""Fetch article pages over HTTP and turn them into :class:`qa.types.Article` objects.

1. :func:`fetch` GETs one URL with httpx: connect and read time-outs plus a deadline for the whole
   body, a few retries with exponential back-off (time-outs, connection errors, HTTP 429 and 5xx
   only), an identifying User-Agent, redirects followed, and the body streamed and abandoned as
   soon as it passes the size cap.
2. :func:`page_article` extracts title, date and body text with trafilatura and names the article
   by its canonical URL: ``<link rel=canonical>`` when present, else the final URL after
   redirects; tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ...) and the fragment are
   dropped (:func:`clean_url`). That URL is both the article's id and its citation link.
3. :func:`ingest_urls` strings these together for article URLs named on the command line.

Every failure becomes a :class:`Failed` (a :class:`ingest.readers.Skipped` with the URL as its
path and a Dutch reason such as ``HTTP 404`` or ``time-out na 5 s``); nothing here raises for a
bad page, so one bad URL never stops the rest.

What this module does not do: read feeds or remember what was fetched (``ingest.feeds``), obey
robots.txt (it fetches only what a person asked for, like a browser), run JavaScript, log in or
keep cookies between pages, throttle per host, or retry a 4xx other than 429.
"""

from __future__ import annotations

import codecs
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from ingest.readers import Skipped, decode, first_sentence, normalize_date
from qa.types import Article

if TYPE_CHECKING:
    import httpx
    from langchain_core.embeddings import Embeddings

    from ingest.pipeline import IngestSummary, ProgressFn
    from qa.index.store import ChunkStore
    from qa.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "Vraagbaak/0.1 (+https://github.com/vraagbaak/vraagbaak)"
HTML_TYPES = {"text/html", "application/xhtml+xml"}
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
MIN_WORDS = 20  # less than this is navigation or a cookie banner, not an article

# Query parameters that only say where a click came from; the same page without them is the same
# article. Matched on the decoded parameter name.
_TRACKING = re.compile(
    r"^(utm_[a-z_]*|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|igshid|_ga|_gl)$",
    re.I,
)


@dataclass(frozen=True)
class FetchOptions:
    """How pages are fetched. Defaults suit news sites; the CLI sets them from its flags."""

    connect_timeout_s: float = 5.0
    read_timeout_s: float = 15.0  # the longest wait for the next bytes of a response
    total_timeout_s: float = 60.0  # the whole body, so a trickling server cannot stall a run
    retries: int = 2
    backoff_s: float = 0.5  # waits 0.5 s, 1 s, 2 s, ... between attempts
    max_bytes: int = 5_000_000
    max_redirects: int = 10
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        for name in ("connect_timeout_s", "read_timeout_s", "total_timeout_s", "max_bytes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries!r}")
        if self.backoff_s < 0:
            raise ValueError(f"backoff_s must be >= 0, got {self.backoff_s!r}")


@dataclass(frozen=True)
class Page:
    """One HTTP response, body read in full (up to the cap)."""

    url: str  # as asked for
    final_url: str  # after redirects
    status: int  # 2xx, or 304 for a conditional request with nothing new (then ``body`` is empty)
    content_type: str  # the media type only, lower case, e.g. "text/html"; "" when not given
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


class FetchError(Exception):
    """A URL could not be fetched. ``reason`` is Dutch and shown to the user as it is."""

    def __init__(
        self, reason: str, *, transient: bool, retry_after: float | None = None
    ) -> None:  # fmt: skip
        super().__init__(reason)
        self.reason = reason
        self.transient = transient  # worth trying again later (time-out, 5xx, no connection)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Failed(Skipped):
    """A page that was not ingested; ``transient`` failures may succeed on a later run."""

    transient: bool = False


# --- fetching ---------------------------------------------------------------------------------


def open_client(options: FetchOptions) -> httpx.Client:
    """An httpx client configured by ``options``; close it (or use it in ``with``) when done.

    Proxies set in the usual environment variables (``HTTPS_PROXY``, ``NO_PROXY``) are honoured.
    """
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(options.read_timeout_s, connect=options.connect_timeout_s),
        follow_redirects=True,
        max_redirects=options.max_redirects,
        headers={
            "User-Agent": options.user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.5",
            "Accept-Language": "nl,en;q=0.5",
        },
    )


def fetch(
    client: httpx.Client, url: str, options: FetchOptions, *,
    headers: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
) -> Page:  # fmt: skip
    """GET ``url``, retrying transient failures. Raises :class:`FetchError` with a Dutch reason.

    A 304 (after ``If-None-Match``/``If-Modified-Since`` in ``headers``) is returned, not raised.
    """
    if not is_http_url(url):
        raise FetchError(f"geen http(s)-adres: {url!r}", transient=False)
    attempt = 0
    while True:
        try:
            return _fetch_once(client, url, options, headers or {})
        except FetchError as err:
            if not err.transient or attempt >= options.retries:
                raise
            delay = options.backoff_s * 2**attempt
            if err.retry_after is not None:
                delay = max(delay, min(err.retry_after, 30.0))
            attempt += 1
            log.info("%s: %s; attempt %d in %.1f s", url, err.reason, attempt + 1, delay)
            sleep(delay)


def _fetch_once(
    client: httpx.Client, url: str, options: FetchOptions, headers: Mapping[str, str]
) -> Page:
    import httpx

    deadline = time.monotonic() + options.total_timeout_s
    try:
        with client.stream("GET", url, headers=dict(headers)) as response:
            status = response.status_code
            if status != 304 and not 200 <= status < 300:
                raise FetchError(
                    f"HTTP {status}",
                    transient=status in RETRY_STATUSES or status >= 500,
                    retry_after=_retry_after(response.headers.get("retry-after")),
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > options.max_bytes:
                raise FetchError(_too_big(options.max_bytes), transient=False)
            parts: list[bytes] = []
            size = 0
            for part in response.iter_bytes():  # decompressed: the cap is on what we keep
                size += len(part)
                if size > options.max_bytes:
                    raise FetchError(_too_big(options.max_bytes), transient=False)
                if time.monotonic() > deadline:
                    raise FetchError(f"time-out na {options.total_timeout_s:g} s", transient=True)
                parts.append(part)
            media_type, charset = _content_type(response.headers.get("content-type", ""))
            return Page(
                url=url,
                final_url=str(response.url),
                status=status,
                content_type=media_type,
                charset=charset,
                body=b"".join(parts),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
    except httpx.ConnectTimeout:
        raise FetchError(f"time-out na {options.connect_timeout_s:g} s", transient=True) from None
    except httpx.TimeoutException:
        raise FetchError(f"time-out na {options.read_timeout_s:g} s", transient=True) from None
    except httpx.TooManyRedirects:
        raise FetchError("te veel doorverwijzingen", transient=False) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
        raise FetchError(f"ongeldig adres ({err})", transient=False) from None
    except httpx.HTTPError as err:  # connection refused, reset, DNS, broken chunked body, ...
        reason = str(err) or type(err).__name__
        raise FetchError(f"niet bereikbaar ({reason})", transient=True) from None


def _too_big(max_bytes: int) -> str:
    return f"te groot (meer dan {max_bytes / 1_000_000:g} MB)"


def _retry_after(value: str | None) -> float | None:
    return float(value) if value and value.strip().isdigit() else None


def _content_type(value: str) -> tuple[str, str | None]:
    media_type, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'")
    return media_type.strip().lower(), charset


# --- URLs -------------------------------------------------------------------------------------


def is_http_url(text: str) -> bool:
    parts = urlsplit(text.strip())
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)


def clean_url(url: str) -> str:
    """``url`` without tracking parameters and fragment, with scheme and host in lower case and
    a default port dropped; everything else (path, other parameters, their order) kept as is."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = (parts.hostname or "").lower()
    if ":" in netloc:  # an IPv6 address
        netloc = f"[{netloc}]"
    if parts.port is not None and (scheme, parts.port) not in {("http", 80), ("https", 443)}:
        netloc += f":{parts.port}"
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{userinfo}@{netloc}"
    kept = [
        param
        for param in parts.query.split("&")
        if param and not _TRACKING.match(unquote_plus(param.split("=", 1)[0]))
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", "&".join(kept), ""))


def canonical_url(html: bytes, final_url: str) -> str:
    """The page's ``<link rel=canonical>`` (resolved against ``final_url``) when it is a usable
    http(s) URL, else ``final_url``; cleaned either way."""
    link = _canonical_link(html)
    if link:
        resolved = urljoin(final_url, link)
        # A canonical pointing at the site's front page is a common template bug, not a claim
        # that this article is the front page.
        if is_http_url(resolved) and not (
            urlsplit(resolved).path in {"", "/"} and urlsplit(final_url).path not in {"", "/"}
        ):
            return clean_url(resolved)
    return clean_url(final_url)


def _canonical_link(html: bytes) -> str | None:
    import lxml.html
    from lxml.etree import ParserError

    try:
        tree = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return None
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" in rel and href:
            return href
    return None


# --- pages to articles ------------------------------------------------------------------------


def page_article(
    page: Page, *, fallback_title: str | None = None, fallback_date: str | None = None,
    fallback_source: str | None = None,
) -> Article | Failed:  # fmt: skip
    """The article on ``page``, named by its canonical URL; or why there is none.

    The page's own title and date win; ``fallback_title`` and ``fallback_date`` (a feed item's)
    fill in what the page lacks. The article has no ``path``: it is not a file, and
    ``--prune`` must never mistake it for a deleted one.
    """
    if not _is_html(page):
        return Failed(page.url, f"geen HTML ({page.content_type or 'onbekend type'})")
    text, notes = _decode(page.body, page.charset)
    fields = _extract(text, url=page.final_url)
    body = _strip_title_line(_tidy(fields.get("text") or ""), fields.get("title"))
    if len(body.split()) < MIN_WORDS:
        return Failed(page.url, "geen artikeltekst gevonden")
    article_url = canonical_url(page.body, page.final_url)
    title = " ".join(str(fields.get("title") or fallback_title or "").split())
    sitename = fields.get("sitename")
    if sitename and sitename.lower() == (urlsplit(page.final_url).netloc or "").lower():
        sitename = None  # trafilatura's stand-in (the host name), not a real name
    return Article(
        id=article_url,
        text=body,
        title=title or first_sentence(body),
        date=normalize_date(fields.get("date")) or normalize_date(fallback_date),
        source=sitename or fallback_source or _host(article_url),
        url=article_url,
        path=None,
        notes=notes,
    )


def fetch_article(
    client: httpx.Client, url: str, options: FetchOptions, *, fallback_title: str | None = None,
    fallback_date: str | None = None, fallback_source: str | None = None,
) -> Article | Failed:  # fmt: skip
    """Fetch ``url`` and extract its article; every failure is a :class:`Failed`, never raised."""
    try:
        page = fetch(client, url, options)
    except FetchError as err:
        return Failed(url, err.reason, transient=err.transient)
    return page_article(
        page, fallback_title=fallback_title, fallback_date=fallback_date,
        fallback_source=fallback_source,
    )  # fmt: skip


def _is_html(page: Page) -> bool:
    if page.content_type in HTML_TYPES:
        return True
    if page.content_type in {"", "application/octet-stream"}:  # unlabelled: look at the bytes
        head = page.body[:1024].lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html"))
    return False


def _decode(body: bytes, charset: str | None) -> tuple[str, tuple[str, ...]]:
    """The server's charset when it is real and fits the bytes; else ``readers.decode``."""
    if charset:
        try:
            return body.decode(codecs.lookup(charset).name), ()
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(body)


def _extract(html: str, *, url: str) -> dict[str, Any]:
    import trafilatura

    try:
        document = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False,
            # Only dates the page states as its own (meta tags, <time>, date elements): the
            # extensive search would take "op 3 maart" from the body for a publication date.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )  # fmt: skip
    except Exception:  # noqa: BLE001 - trafilatura raises many kinds on broken markup
        return {}
    if document is None:
        return {}
    data = document.as_dict() if hasattr(document, "as_dict") else dict(document)
    return {k: data.get(k) for k in ("text", "title", "date", "sitename")}


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _strip_title_line(body: str, title: str | None) -> str:
    """trafilatura often repeats the headline as the body's first line; it is embedded with every
    chunk as the title already."""
    first, _, rest = body.partition("\n")
    if title and rest and first.casefold() == " ".join(title.split()).casefold():
        return rest
    return body


def _host(url: str) -> str | None:
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


# --- article URLs -----------------------------------------------------------------------------


def ingest_urls(
    urls: Sequence[str], *, client: httpx.Client, options: FetchOptions, store: ChunkStore,
    embeddings: Embeddings, settings: Settings, progress: ProgressFn | None = None,
) -> IngestSummary:  # fmt: skip
    """Fetch each article URL and write what it holds; one article per canonical URL."""
    from ingest.pipeline import ingest_articles

    articles, skipped = collect_articles(
        (url, fetch_article(client, url, options)) for url in _unique(urls)
    )
    summary = ingest_articles(
        articles, store=store, embeddings=embeddings, settings=settings, progress=progress
    )
    summary.skipped = skipped + summary.skipped
    return summary


def collect_articles(
    results: Iterable[tuple[str, Article | Failed]],
) -> tuple[list[Article], list[Skipped]]:
    """Split fetched results into articles and skips; a second URL that lands on an article
    already collected (a redirect, tracking parameters) is skipped as a duplicate."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    first_url: dict[str, str] = {}
    for url, result in results:
        if isinstance(result, Failed):
            skipped.append(result)
        elif result.id in first_url:
            skipped.append(Skipped(url, duplicate_reason(result.id)))
        else:
            first_url[result.id] = url
            articles.append(result)
    return articles, skipped


def duplicate_reason(article_id: str) -> str:
    return f"zelfde artikel als {article_id}; één keer opgenomen"


def _unique(urls: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for url in urls:
        key = clean_url(url) if is_http_url(url) else url
        if key not in seen:
            seen.add(key)
            out.append(url)
    return out
