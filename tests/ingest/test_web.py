"""Fetching article pages: time-outs, retries, redirects, size cap, extraction, canonical URLs.

Everything runs against the test news site on 127.0.0.1 (``tests/ingest/newsite.py``).
"""

from __future__ import annotations

import socket
import time

import pytest

from ingest.pipeline import prune_missing
from ingest.web import (
    USER_AGENT,
    Failed,
    FetchError,
    FetchOptions,
    Page,
    canonical_url,
    clean_url,
    fetch,
    fetch_article,
    ingest_urls,
    open_client,
    page_article,
)
from qa.types import Article
from tests.ingest.newsite import (
    BIBLIOTHEEK,
    FIETSBRUG,
    NewsSite,
    Route,
    article_html,
)

FAST = FetchOptions(connect_timeout_s=1, read_timeout_s=1, retries=0, backoff_s=0)


pytestmark = pytest.mark.usefixtures("_only_localhost")


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://nos.nl/artikel/1?utm_source=rss&utm_medium=x", "https://nos.nl/artikel/1"),
        ("https://nos.nl/a?id=5&fbclid=abc&page=2#reacties", "https://nos.nl/a?id=5&page=2"),
        ("https://nos.nl/a?gclid=1&UTM_Campaign=z", "https://nos.nl/a"),
        ("HTTPS://NOS.nl:443/Artikel/Een", "https://nos.nl/Artikel/Een"),
        ("http://127.0.0.1:8080/a?b=1&b=2", "http://127.0.0.1:8080/a?b=1&b=2"),
        ("https://nos.nl", "https://nos.nl/"),
        ("https://nos.nl/a?q=caf%C3%A9+au+lait", "https://nos.nl/a?q=caf%C3%A9+au+lait"),
        ("https://nos.nl/a?utm%5Fsource=x&ref=home", "https://nos.nl/a?ref=home"),
    ],
)
def test_clean_url_drops_tracking_and_fragment_only(url: str, clean: str) -> None:
    assert clean_url(url) == clean


def test_canonical_link_wins_and_is_resolved() -> None:
    final = "http://127.0.0.1:9/oud/pad?utm_source=x"
    assert canonical_url(b'<link rel="canonical" href="/nieuw/pad">', final) == (
        "http://127.0.0.1:9/nieuw/pad"
    )
    html = b'<head><link href="https://ex.nl/a?utm_medium=rss#x" rel="Canonical"></head>'
    assert canonical_url(html, final) == "https://ex.nl/a"


@pytest.mark.parametrize(
    "html",
    [
        b"<html><head><title>Geen canonical</title></head></html>",
        b'<link rel="canonical" href="/">',  # a template bug: every page "is" the front page
        b'<link rel="canonical" href="javascript:void(0)">',
        b"",
    ],
)
def test_without_a_usable_canonical_the_final_url_is_used(html: bytes) -> None:
    final = "http://127.0.0.1:9/artikel/een.html?fbclid=1#top"
    assert canonical_url(html, final) == "http://127.0.0.1:9/artikel/een.html"


# --- fetching ---------------------------------------------------------------------------------


def test_fetch_identifies_itself_and_follows_redirects(site: NewsSite) -> None:
    with open_client(FAST) as client:
        page = fetch(client, site.url("/oud/fietsbrug"), FAST)
    assert page.status == 200
    assert page.final_url == site.url("/artikel/fietsbrug.html")
    assert page.content_type == "text/html" and page.charset == "utf-8"
    assert site.requests[0].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("Vraagbaak/")


def test_a_404_fails_at_once_without_retries(site: NewsSite) -> None:
    options = FetchOptions(retries=2, backoff_s=0)
    with open_client(options) as client, pytest.raises(FetchError) as caught:
        fetch(client, site.url("/artikel/verdwenen.html"), options)
    assert caught.value.reason == "HTTP 404"
    assert not caught.value.transient
    assert site.hits("/artikel/verdwenen.html") == 1


def test_a_server_error_is_retried_with_growing_back_off(site: NewsSite) -> None:
    site.routes["/druk.html"] = Route(body=article_html(BIBLIOTHEEK).encode(), fail_first=2)
    waits: list[float] = []
    options = FetchOptions(retries=2, backoff_s=0.5)
    with open_client(options) as client:
        page = fetch(client, site.url("/druk.html"), options, sleep=waits.append)
    assert page.status == 200
    assert waits == [0.5, 1.0]
    assert site.hits("/druk.html") == 3


def test_retries_run_out(site: NewsSite) -> None:
    site.routes["/stuk.html"] = Route(fail_first=99)
    options = FetchOptions(retries=1, backoff_s=0)
    with open_client(options) as client, pytest.raises(FetchError) as caught:
        fetch(client, site.url("/stuk.html"), options, sleep=lambda s: None)
    assert caught.value.reason == "HTTP 503" and caught.value.transient
    assert site.hits("/stuk.html") == 2


def test_a_hanging_page_times_out_quickly(site: NewsSite) -> None:
    options = FetchOptions(connect_timeout_s=1, read_timeout_s=0.3, retries=0)
    started = time.monotonic()
    with open_client(options) as client, pytest.raises(FetchError) as caught:
        fetch(client, site.url("/artikel/traag.html"), options)
    assert caught.value.reason == "time-out na 0.3 s"
    assert caught.value.transient
    assert time.monotonic() - started < 5


def test_a_trickling_page_hits_the_deadline_for_the_whole_body(site: NewsSite) -> None:
    site.routes["/druppel.html"] = Route(body=b"x" * 1000, chunk_delay_s=0.2)
    options = FetchOptions(read_timeout_s=1, total_timeout_s=0.3, retries=0)
    with open_client(options) as client, pytest.raises(FetchError) as caught:
        fetch(client, site.url("/druppel.html"), options)
    assert caught.value.reason == "time-out na 0.3 s"


@pytest.mark.parametrize("send_length", [True, False])
def test_a_page_past_the_size_cap_is_abandoned(site: NewsSite, send_length: bool) -> None:
    site.routes["/groot.html"] = Route(body=b"<p>" + b"a" * 2_000_000, send_length=send_length)
    options = FetchOptions(max_bytes=20_000, retries=0)
    with open_client(options) as client, pytest.raises(FetchError) as caught:
        fetch(client, site.url("/groot.html"), options)
    assert caught.value.reason == "te groot (meer dan 0.02 MB)"
    assert not caught.value.transient


def test_an_unreachable_host_is_a_transient_failure() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with open_client(FAST) as client, pytest.raises(FetchError) as caught:
        fetch(client, f"http://127.0.0.1:{port}/", FAST)
    assert caught.value.reason.startswith("niet bereikbaar")
    assert caught.value.transient


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/a", "/etc/passwd", "artikel.html", ""])
def test_only_http_urls_are_fetched(url: str) -> None:
    with open_client(FAST) as client, pytest.raises(FetchError) as caught:
        fetch(client, url, FAST)
    assert caught.value.reason.startswith("geen http(s)-adres")


def test_fetch_options_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="read_timeout_s must be > 0, got -1"):
        FetchOptions(read_timeout_s=-1)
    with pytest.raises(ValueError, match="retries must be >= 0, got -2"):
        FetchOptions(retries=-2)


# --- pages to articles ------------------------------------------------------------------------


def _page(html: str | bytes, *, content_type: str = "text/html", charset: str | None = "utf-8",
          url: str = "http://127.0.0.1:9/artikel/x.html") -> Page:  # fmt: skip
    body = html.encode("utf-8") if isinstance(html, str) else html
    return Page(url, url, 200, content_type, charset, body)


def test_an_article_page_becomes_an_article_named_by_its_canonical_url(site: NewsSite) -> None:
    with open_client(FAST) as client:
        article = fetch_article(
            client, site.url("/kort/bieb"), FAST, fallback_title="Titel uit de feed",
            fallback_date="2020-01-01",
        )  # fmt: skip
    assert isinstance(article, Article)
    assert article.id == article.url == site.url("/artikel/bibliotheek.html")
    assert article.title == "Voorbeeldstad opent nieuwe bibliotheek"  # the page's own title
    assert article.date == "2025-03-03"  # the page's own date
    assert article.source == "Testnieuws Voorbeeldstad"
    assert article.text.startswith("Testnieuws: De gemeente Voorbeeldstad")  # no headline line
    assert "Voorpagina" not in article.text and "©" not in article.text
    assert article.path is None


def test_the_feed_item_fills_in_a_missing_title_and_date() -> None:
    article = page_article(
        _page(article_html(FIETSBRUG, site_name=None)),
        fallback_title="Nieuwe fietsbrug", fallback_date="Thu, 10 Apr 2025 08:00:00 +0200",
        fallback_source="Testnieuws Voorbeeldstad",
    )  # fmt: skip
    assert isinstance(article, Article)
    assert (article.title, article.date) == ("Nieuwe fietsbrug", "2025-04-10")
    assert article.source == "Testnieuws Voorbeeldstad"


def test_a_date_in_the_body_is_not_taken_for_the_publication_date() -> None:
    # The text says "op 12 april 2025"; that is when the bridge opens, not when the news was out.
    article = page_article(_page(article_html(FIETSBRUG)))
    assert isinstance(article, Article)
    assert article.date is None
    assert article.title.startswith("Testnieuws: De nieuwe fietsbrug")  # first sentence


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (_page(b"%PDF-1.4", content_type="application/pdf"), "geen HTML (application/pdf)"),
        (_page("platte tekst", content_type="text/plain"), "geen HTML (text/plain)"),
        (_page(b"\x89PNG....", content_type=""), "geen HTML (onbekend type)"),
        (_page("<html><body><nav>Voorpagina</nav><p>Wij gebruiken cookies.</p></body></html>"),
         "geen artikeltekst gevonden"),
        (_page("<html><body></body></html>"), "geen artikeltekst gevonden"),
    ],
)  # fmt: skip
def test_pages_without_an_article_are_skipped_with_a_reason(page: Page, reason: str) -> None:
    result = page_article(page)
    assert isinstance(result, Failed)
    assert (result.path, result.reason) == (page.url, reason)


def test_unlabelled_html_and_a_declared_charset_are_honoured() -> None:
    paragraphs = [
        "Testnieuws: Het café aan de Kerkstraat krijgt een terras met drieëntwintig tafels.",
        "De eigenaar runt het café al dertig jaar en is blij met de vergunning.",
        "Buurtbewoners vrezen wel voor geluidsoverlast in de zomer.",
    ]
    html = article_html(paragraphs).replace('<meta charset="utf-8">', "")
    unlabelled = _page(html.encode("latin-1"), content_type="", charset=None)
    article = page_article(unlabelled)
    assert isinstance(article, Article)
    assert "café" in article.text and "drieëntwintig" in article.text
    labelled = page_article(_page(html.encode("cp1252"), charset="windows-1252"))
    assert isinstance(labelled, Article) and "drieëntwintig" in labelled.text


# --- article URLs into the index --------------------------------------------------------------


def test_the_same_article_under_two_urls_is_indexed_once(site, store, fake_embeddings, settings):  # type: ignore[no-untyped-def]
    urls = [
        site.url("/artikel/bibliotheek.html?utm_source=nieuwsbrief"),
        site.url("/kort/bieb"),
        site.url("/artikel/verdwenen.html"),
        site.url("/artikel/bibliotheek.html#reacties"),  # the same URL as the first, cleaned
    ]
    with open_client(FAST) as client:
        summary = ingest_urls(
            urls, client=client, options=FAST, store=store, embeddings=fake_embeddings,
            settings=settings,
        )  # fmt: skip
    canonical = site.url("/artikel/bibliotheek.html")
    assert summary.added == 1
    assert {(s.path, s.reason) for s in summary.skipped} == {
        (urls[1], f"zelfde artikel als {canonical}; één keer opgenomen"),
        (urls[2], "HTTP 404"),
    }
    assert list(store.articles()) == [canonical]
    # Web articles have no file behind them: --prune must leave them alone.
    assert prune_missing(store) == 0
    assert list(store.articles()) == [canonical]
