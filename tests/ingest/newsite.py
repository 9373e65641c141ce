"""A small made-up Dutch news site for tests, served by ``http.server`` on 127.0.0.1.

:class:`NewsSite` runs in a thread on an ephemeral port. Its routes are plain data
(:class:`Route`): a page, a redirect, a page that hangs, a server error that clears after a few
tries. Its feed answers conditional requests (ETag / Last-Modified, then 304) as a real news site
does, and every request is logged, so a test can assert what was fetched and what was not.
:func:`standard_site` fills it with the scenario of issue 7: a feed whose items include normal
articles, a 404, a page that hangs, duplicates (a tracking-parameter URL, a repeated guid, a
short link that redirects) and a redirect.

All content is invented test news ("Testnieuws", "Voorbeeldstad"). This is not a general web
server: one thread per request, no keep-alive, no TLS, GET only.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

SITE_NAME = "Testnieuws Voorbeeldstad"
LAST_MODIFIED = "Mon, 03 Mar 2025 10:00:00 GMT"


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    hang_s: float = 0.0  # wait this long before answering (released early when the site stops)
    fail_first: int = 0  # answer 503 to this many requests first
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does
    chunk_delay_s: float = 0.0  # > 0: send the body in ten pieces with this pause between them
    conditional: bool = False  # send an ETag (from the body) and answer If-None-Match with 304


@dataclass(frozen=True)
class Request:
    path: str  # with its query string
    headers: dict[str, str]


@dataclass
class Item:
    """One feed item."""

    guid: str
    path: str  # the item's link, relative to the site
    title: str | None = None
    published: str | None = None  # RFC 822, e.g. "Mon, 03 Mar 2025 09:00:00 +0100"


class NewsSite:
    """The test site. Use it as a context manager; ``url(path)`` gives absolute URLs."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.site = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # hanging handlers return at once
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base_url + path

    # --- content ---------------------------------------------------------------------------

    def page(self, path: str, html: str, **route: object) -> None:
        self.routes[path] = Route(body=html.encode("utf-8"), **route)  # type: ignore[arg-type]

    def redirect(self, path: str, to: str, status: int = 301) -> None:
        self.routes[path] = Route(status=status, headers={"Location": to}, body=b"")

    def hang(self, path: str, seconds: float = 10.0) -> None:
        self.routes[path] = Route(hang_s=seconds, body=b"<html>te laat</html>")

    def feed(self, path: str, items: list[Item], *, conditional: bool = True) -> None:
        """An RSS 2.0 feed; its ETag follows its content, so changing the items changes it."""
        self.routes[path] = Route(
            body=rss(self.base_url, items).encode("utf-8"),
            content_type="application/rss+xml; charset=utf-8",
            conditional=conditional,
        )

    # --- what was asked ----------------------------------------------------------------------

    def hits(self, path: str) -> int:
        """How many requests asked for ``path`` exactly (query string included)."""
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


class _Handler(BaseHTTPRequestHandler):
    server_version = "Testnieuws/1.0"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        site: NewsSite = self.server.site  # type: ignore[attr-defined]
        site._log(Request(self.path, dict(self.headers.items())))
        route = site.routes.get(self.path) or site.routes.get(urlsplit(self.path).path)
        # A client that gave up (a time-out under test) needs no answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(site, route)

    def _answer(self, site: NewsSite, route: Route | None) -> None:
        if route is None:
            self._send(404, b"<html><body><h1>Pagina niet gevonden</h1></body></html>", {})
            return
        if route.hang_s:
            site._stopping.wait(route.hang_s)
        if route.fail_first > 0:
            route.fail_first -= 1
            self._send(503, b"<html>even niet</html>", {"Retry-After": "0"})
            return
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.conditional:
            etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
            headers.update({"ETag": etag, "Last-Modified": LAST_MODIFIED})
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", {"ETag": etag})
                return
        self._send(route.status, route.body, headers, route=route)

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], route: Route | None = None
    ) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304 and (route is None or route.send_length):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status == 304:
            return
        if route is None or not route.chunk_delay_s:
            self.wfile.write(body)
            return
        stopping = self.server.site._stopping  # type: ignore[attr-defined]
        step = max(1, len(body) // 10)
        for i in range(0, len(body), step):
            self.wfile.write(body[i : i + step])
            self.wfile.flush()
            if stopping.wait(route.chunk_delay_s):
                return


# --- pages and feeds ---------------------------------------------------------------------------


def article_html(
    paragraphs: list[str], *, title: str | None = None, date: str | None = None,
    canonical: str | None = None, site_name: str | None = SITE_NAME,
) -> str:  # fmt: skip
    """A news page as sites write them: navigation, the article, a footer."""
    head = ['<meta charset="utf-8">']
    if title:
        head.append(f"<title>{escape(title)} | {SITE_NAME}</title>")
    if canonical:
        head.append(f'<link rel="canonical" href="{escape(canonical)}">')
    if site_name:
        head.append(f'<meta property="og:site_name" content="{escape(site_name)}">')
    if date:
        head.append(f'<meta property="article:published_time" content="{date}T09:00:00+01:00">')
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    h1 = f"<h1>{escape(title)}</h1>" if title else ""
    return (
        f'<!doctype html><html lang="nl"><head>{"".join(head)}</head><body>'
        '<header><nav><a href="/">Voorpagina</a> <a href="/sport">Sport</a></nav></header>'
        f"<main><article>{h1}{body}</article></main>"
        f"<footer>© 2025 {SITE_NAME}. Alle berichten zijn verzonnen testinhoud.</footer>"
        "</body></html>"
    )


def rss(base_url: str, items: list[Item]) -> str:
    parts = []
    for item in items:
        parts.append(
            "<item>"
            + (f"<title>{escape(item.title)}</title>" if item.title else "")
            + f"<link>{escape(base_url + item.path)}</link>"
            + f'<guid isPermaLink="false">{escape(item.guid)}</guid>'
            + (f"<pubDate>{item.published}</pubDate>" if item.published else "")
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{SITE_NAME}</title><link>{base_url}/</link>"
        f"<description>Verzonnen nieuws voor tests</description>{''.join(parts)}"
        "</channel></rss>"
    )


def atom(base_url: str, items: list[Item]) -> str:
    entries = "".join(
        f"<entry><id>{escape(i.guid)}</id><title>{escape(i.title or '')}</title>"
        f'<link href="{escape(base_url + i.path)}"/><updated>2025-03-03T09:00:00+01:00</updated>'
        "</entry>"
        for i in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{SITE_NAME}</title><id>{base_url}/</id>"
        f"<updated>2025-03-03T09:00:00+01:00</updated>{entries}</feed>"
    )


BIBLIOTHEEK = [
    "Testnieuws: De gemeente Voorbeeldstad opent een nieuwe bibliotheek op 3 maart 2025.",
    "Het gebouw staat aan het Marktplein en telt drie verdiepingen met ruim veertigduizend boeken.",
    "Wethouder Jansen noemt de opening een mijlpaal voor de stad. Scholieren krijgen een eigen "
    "leeszaal die tot tien uur 's avonds open is.",
]
FIETSBRUG = [
    "Testnieuws: De nieuwe fietsbrug over de Voorbeeldse Vaart gaat op 12 april 2025 open voor "
    "fietsers en voetgangers.",
    "De brug is zestig meter lang en kostte vier miljoen euro, waarvan de provincie de helft "
    "betaalde.",
    "Omwonenden hopen dat het drukke kruispunt bij de oude sluis daardoor rustiger wordt.",
]
MARKT = [
    "Testnieuws: De weekmarkt van Voorbeeldstad verhuist vanaf april naar het Stationsplein.",
    "Op het oude marktterrein komt een parkeergarage met tweehonderd plaatsen.",
    "De marktkooplui zijn tevreden, want op het Stationsplein lopen elke zaterdag meer mensen.",
]
ZWEMBAD = [
    "Testnieuws: Het zwembad De Spetter in Voorbeeldstad gaat na een verbouwing van een jaar "
    "weer open.",
    "Het bad heeft nu een instructiebad voor zwemles en zonnepanelen op het dak.",
    "De eerste week is de toegang gratis voor alle inwoners van de gemeente.",
]


def standard_site(site: NewsSite) -> None:
    """The issue-7 scenario at ``/feed.xml``. Expected from one run with a short time-out:
    3 articles added (bibliotheek, fietsbrug via a redirect, markt) and 6 skipped."""
    b = site.base_url
    site.page(
        "/artikel/bibliotheek.html",
        article_html(
            BIBLIOTHEEK, title="Voorbeeldstad opent nieuwe bibliotheek", date="2025-03-03",
            canonical=b + "/artikel/bibliotheek.html",
        ),
    )  # fmt: skip
    # No title, no date, no canonical: the feed item's title and date, the final URL.
    site.page("/artikel/fietsbrug.html", article_html(FIETSBRUG, site_name=None))
    site.redirect("/oud/fietsbrug", "/artikel/fietsbrug.html")
    site.redirect("/kort/bieb", "/artikel/bibliotheek.html?utm_source=kort&utm_campaign=deel", 302)
    site.page(
        "/artikel/markt.html",
        article_html(MARKT, title="Weekmarkt verhuist naar het Stationsplein", date="2025-02-14",
                     canonical="/artikel/markt.html"),
    )  # fmt: skip
    site.hang("/artikel/traag.html")
    site.routes["/artikel/brochure.pdf"] = Route(
        body=b"%PDF-1.4\n% verzonnen brochure\n", content_type="application/pdf"
    )
    site.page(
        "/artikel/leeg.html",
        '<html><head><title>Leeg</title></head><body><nav><a href="/">Voorpagina</a></nav>'
        "<div>Wij gebruiken cookies.</div></body></html>",
    )
    site.feed("/feed.xml", standard_items())


TRACKED = "/artikel/bibliotheek.html?utm_source=rss&utm_medium=feed&fbclid=abc#reacties"
MAR_3 = "Mon, 03 Mar 2025 09:00:00 +0100"


def standard_items() -> list[Item]:
    return [
        Item("tn-001", "/artikel/bibliotheek.html", "Nieuwe bibliotheek in Voorbeeldstad", MAR_3),
        Item("tn-002", "/artikel/verdwenen.html", "Verdwenen", "Sun, 02 Mar 2025 09:00:00 +0100"),
        Item("tn-003", "/artikel/traag.html", "Trage pagina", "Sat, 01 Mar 2025 09:00:00 +0100"),
        Item("tn-004", TRACKED, "Bibliotheek (gedeeld)", MAR_3),
        Item("tn-005", "/oud/fietsbrug", "Nieuwe fietsbrug over de Voorbeeldse Vaart",
             "Thu, 10 Apr 2025 08:00:00 +0200"),
        Item("tn-006", "/kort/bieb", "Bibliotheek (korte link)", MAR_3),
        Item("tn-001", "/artikel/bibliotheek.html", "Nieuwe bibliotheek in Voorbeeldstad", MAR_3),
        Item("tn-007", "/artikel/brochure.pdf", "Brochure", "Fri, 28 Feb 2025 09:00:00 +0100"),
        Item("tn-008", "/artikel/leeg.html", "Lege pagina", "Fri, 28 Feb 2025 08:00:00 +0100"),
        Item("tn-009", "/artikel/markt.html", "Weekmarkt", "Fri, 14 Feb 2025 09:00:00 +0100"),
    ]  # fmt: skip


def add_zwembad(site: NewsSite) -> None:
    """A new article appears in the feed (for re-run and watch tests)."""
    site.page(
        "/artikel/zwembad.html",
        article_html(ZWEMBAD, title="Zwembad De Spetter weer open", date="2025-05-02"),
    )
    items = standard_items()
    items.insert(0, Item("tn-010", "/artikel/zwembad.html", "Zwembad weer open",
                         "Fri, 02 May 2025 09:00:00 +0200"))  # fmt: skip
    site.feed("/feed.xml", items)


# --- nothing leaves 127.0.0.1 ------------------------------------------------------------------


def only_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any connection to an address other than the loopback fail the test at once."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and host not in {"127.0.0.1", "::1", "localhost"}:
            raise AssertionError(f"a test tried to leave 127.0.0.1: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
