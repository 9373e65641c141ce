"""Feeds: what gets in, what is skipped and why, duplicates, re-runs, --since, --watch, the CLI.

Everything runs against the test news site on 127.0.0.1 (``tests/ingest/newsite.py``), with the
fake embedder; one integration test uses the real bundled model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from ingest.feeds import (
    MAX_ATTEMPTS,
    RETRY_FIRST_S,
    RETRY_MAX_S,
    Clock,
    FeedRecord,
    FeedState,
    ItemRecord,
    ingest_feeds,
    parse_feed,
    read_feeds_file,
    state_path,
    watch,
)
from ingest.pipeline import IngestSummary
from ingest.web import FetchOptions, open_client
from qa.index.store import ChunkStore, open_store, spec_for
from qa.settings import REPO_ROOT, Settings
from tests.conftest import OverlapReader
from tests.ingest.newsite import (
    TRACKED,
    NewsSite,
    Route,
    add_zwembad,
    atom,
    rss,
    standard_items,
)

QUICK = FetchOptions(connect_timeout_s=1, read_timeout_s=0.3, retries=0, backoff_s=0)
CLI_FETCH = ["--timeout", "0.5", "--retries", "0", "--json"]


pytestmark = pytest.mark.usefixtures("_only_localhost")


class StoppedClock:
    """A clock that stands still until a test moves it (``clock.now = ...``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def expected_skips(site: NewsSite, timeout: str) -> set[tuple[str, str]]:
    same = f"zelfde artikel als {site.url('/artikel/bibliotheek.html')}; één keer opgenomen"
    return {
        (site.url("/artikel/verdwenen.html"), "HTTP 404"),
        (site.url("/artikel/traag.html"), f"time-out na {timeout} s"),
        (site.url(TRACKED), same),
        (site.url("/kort/bieb"), same),
        (site.url("/artikel/brochure.pdf"), "geen HTML (application/pdf)"),
        (site.url("/artikel/leeg.html"), "geen artikeltekst gevonden"),
    }


def good_urls(site: NewsSite) -> set[str]:
    return {site.url(p) for p in ("/artikel/bibliotheek.html", "/artikel/fietsbrug.html",
                                  "/artikel/markt.html")}  # fmt: skip


def run(
    site: NewsSite, store: ChunkStore, embeddings: Embeddings, settings: Settings, *,
    state: FeedState | None = None, since: str | None = None, options: FetchOptions = QUICK,
    clock: Clock = time.time,
) -> tuple[IngestSummary, FeedState]:  # fmt: skip
    """One round over the site's feed, as the CLI runs it."""
    state = state or FeedState.load(state_path(settings))
    with open_client(options) as client:
        summary = ingest_feeds(
            [site.url("/feed.xml")], client=client, options=options, state=state, store=store,
            embeddings=embeddings, settings=settings, since=since, clock=clock,
        )  # fmt: skip
    return summary, state


# --- parsing ----------------------------------------------------------------------------------


def test_rss_items_keep_guid_link_title_and_the_publishers_own_day() -> None:
    body = rss("http://127.0.0.1:9", standard_items()).encode()
    body = body.replace(b"Mon, 03 Mar 2025 09:00:00", b"Mon, 03 Mar 2025 00:30:00", 1)
    feed = parse_feed(body, url="http://127.0.0.1:9/feed.xml")
    assert feed is not None and feed.title == "Testnieuws Voorbeeldstad"
    first = feed.items[0]
    assert (first.key, first.link) == ("tn-001", "http://127.0.0.1:9/artikel/bibliotheek.html")
    assert first.title == "Nieuwe bibliotheek in Voorbeeldstad"
    assert first.date == "2025-03-03"  # 00:30 +01:00 is 2 March in UTC; the publisher's day wins
    assert len(feed.items) == 10  # the repeated guid is still listed; ingest_feed drops it


def test_atom_feeds_and_relative_links() -> None:
    body = atom("", standard_items()[:1]).encode()  # a relative link: "/artikel/..."
    feed = parse_feed(body, url="http://127.0.0.1:9/atom.xml")
    assert feed is not None
    assert feed.items[0].link == "http://127.0.0.1:9/artikel/bibliotheek.html"
    assert feed.items[0].date == "2025-03-03"


@pytest.mark.parametrize(
    "body", [b"<html><body><p>Geen feed</p></body></html>", b"", b"/etc/passwd", b"{}"]
)
def test_what_is_not_a_feed_is_recognised(body: bytes) -> None:
    assert parse_feed(body, url="http://127.0.0.1:9/feed.xml") is None


def test_feeds_file_takes_one_url_per_line_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "feeds.txt"
    path.write_text(
        "# nieuws\nhttp://127.0.0.1:9/feed.xml\n\n  http://127.0.0.1:9/b.xml  # sport\n#uit\n",
        encoding="utf-8",
    )
    assert read_feeds_file(path) == ["http://127.0.0.1:9/feed.xml", "http://127.0.0.1:9/b.xml"]


def test_state_survives_a_round_trip_and_a_corrupt_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "feeds-vraagbaak.json"
    state = FeedState(path)
    state.feeds["http://x/feed"] = FeedRecord(
        etag='"abc"', items={"g1": ItemRecord("done", article_id="http://x/a")}
    )
    state.save()
    assert FeedState.load(path).feeds == state.feeds
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left behind
    path.write_text("{kapot", encoding="utf-8")
    assert FeedState.load(path).feeds == {}


def test_state_lives_beside_the_index_or_in_the_cache_for_a_server(tmp_path: Path) -> None:
    local = Settings(index_dir=tmp_path / "idx", model_cache=tmp_path / "cache")
    assert state_path(local) == tmp_path / "idx" / "feeds-vraagbaak.json"
    server = local.replace(chroma_url="http://127.0.0.1:8000")
    assert state_path(server).parent == tmp_path / "cache" / "feeds"


# --- one round --------------------------------------------------------------------------------


def test_a_feed_round_adds_the_good_articles_and_reports_the_rest(
    site, store, fake_embeddings, settings
):  # type: ignore[no-untyped-def]
    summary, _ = run(site, store, fake_embeddings, settings)
    assert summary.added == 3
    assert {(s.path, s.reason) for s in summary.skipped} == expected_skips(site, "0.3")
    # Each article once, under its canonical URL (redirects followed, tracking parameters gone).
    assert set(store.articles()) == good_urls(site)
    # The tracking-parameter duplicate was recognised without fetching it; the repeated guid too.
    assert site.hits(TRACKED.split("#")[0]) == 0
    assert site.hits("/artikel/bibliotheek.html") == 1
    assert summary.chunks == store.count() > 0


def test_stored_chunks_carry_the_url_and_the_date(site, store, fake_embeddings, settings):  # type: ignore[no-untyped-def]
    run(site, store, fake_embeddings, settings)
    question = fake_embeddings.embed_query("Wanneer opent de nieuwe bibliotheek in Voorbeeldstad?")
    hits = {h.article_id: h for h in store.dense_search(question, 10)}
    bieb = hits[site.url("/artikel/bibliotheek.html")]
    assert (bieb.url, bieb.date, bieb.source) == (
        site.url("/artikel/bibliotheek.html"), "2025-03-03", "Testnieuws Voorbeeldstad",
    )  # fmt: skip
    brug = hits[site.url("/artikel/fietsbrug.html")]
    # The page has neither title nor date: both come from the feed item.
    assert (brug.title, brug.date) == ("Nieuwe fietsbrug over de Voorbeeldse Vaart", "2025-04-10")
    assert brug.url == site.url("/artikel/fietsbrug.html")  # the final URL after the redirect


def test_an_answer_cites_the_articles_url_and_date(site, store, fake_embeddings, settings):  # type: ignore[no-untyped-def]
    pipeline_module = pytest.importorskip("qa.pipeline")
    run(site, store, fake_embeddings, settings)
    pipeline = pipeline_module.Pipeline(settings, fake_embeddings, store, reader=OverlapReader())
    answer = pipeline.ask("Wanneer opent de nieuwe bibliotheek in Voorbeeldstad?")
    assert not answer.refused, answer
    assert answer.sources[0].url == site.url("/artikel/bibliotheek.html")
    assert answer.sources[0].date == "2025-03-03"


def test_a_rerun_is_a_no_op_when_the_feed_did_not_change(site, store, fake_embeddings, settings):  # type: ignore[no-untyped-def]
    run(site, store, fake_embeddings, settings)
    chunks = store.count()
    site.clear_log()
    summary, _ = run(site, store, fake_embeddings, settings)
    assert (summary.added, summary.updated, summary.unchanged, summary.skipped) == (0, 0, 0, [])
    assert [n.reason for n in summary.notes] == ["feed ongewijzigd sinds de vorige keer (HTTP 304)"]
    assert site.paths() == ["/feed.xml"]
    assert site.requests[0].headers.get("If-None-Match")
    assert store.count() == chunks


def test_only_new_items_are_fetched_and_failed_ones_wait_for_their_back_off(
    site, store, fake_embeddings, settings
):  # type: ignore[no-untyped-def]
    start = time.time()
    run(site, store, fake_embeddings, settings, clock=lambda: start)
    add_zwembad(site)
    site.clear_log()
    summary, _ = run(site, store, fake_embeddings, settings, clock=lambda: start + 60)
    assert summary.added == 1
    assert summary.article_ids == [site.url("/artikel/zwembad.html")]
    # The changed feed and the new article; the page that timed out waits for its back-off.
    assert sorted(site.paths()) == ["/artikel/zwembad.html", "/feed.xml"]
    waiting = {d.path: d.reason for d in summary.deferred}
    assert waiting[site.url("/artikel/traag.html")] == "time-out na 0.3 s"
    assert waiting[site.url("/artikel/verdwenen.html")] == "HTTP 404"
    assert summary.skipped == []
    # Once the time-out's back-off has passed it is tried again; the 404 waits a day.
    site.clear_log()
    run(site, store, fake_embeddings, settings, clock=lambda: start + RETRY_FIRST_S + 1)
    assert sorted(site.paths()) == ["/artikel/traag.html", "/feed.xml"]


def test_a_page_that_keeps_failing_waits_longer_each_time_then_is_given_up(
    site, store, fake_embeddings, settings
):  # type: ignore[no-untyped-def]
    site.feed("/feed.xml", standard_items(), conditional=False)
    site.routes["/artikel/traag.html"] = Route(fail_first=999)  # a 503 that does not go away
    clock = StoppedClock(int(time.time()))
    state = FeedState.load(state_path(settings))
    pauses = []
    for _ in range(MAX_ATTEMPTS + 1):
        run(site, store, fake_embeddings, settings, state=state, clock=clock)
        traag = state.feed(site.url("/feed.xml")).items["tn-003"]
        if traag.retry_at is None:
            break
        retry_at = datetime.fromisoformat(traag.retry_at).timestamp()
        pauses.append(round(retry_at - clock.now))
        clock.now = retry_at  # the next run comes exactly when it is due
    doubling = [min(RETRY_FIRST_S * 2**n, RETRY_MAX_S) for n in range(MAX_ATTEMPTS - 1)]
    assert pauses == doubling
    assert doubling[-1] == RETRY_MAX_S  # the cap is reached before the tries run out
    assert (traag.status, traag.attempts) == ("failed", MAX_ATTEMPTS)
    assert site.hits("/artikel/traag.html") == MAX_ATTEMPTS
    clock.now += 10 * RETRY_MAX_S
    run(site, store, fake_embeddings, settings, state=state, clock=clock)
    assert site.hits("/artikel/traag.html") == MAX_ATTEMPTS  # given up
    # Items that were ingested are never fetched again, however often the feed is read in full.
    assert site.hits("/artikel/bibliotheek.html") == 1
    assert site.hits("/feed.xml") == MAX_ATTEMPTS + 1


def test_a_state_file_of_the_previous_version_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "feeds-vraagbaak.json"
    path.write_text(json.dumps({"version": 1, "feeds": {"http://127.0.0.1:9/feed.xml": {
        "etag": '"abc"', "last_modified": None, "since": None, "items": {
            "tn-001": {"status": "done", "article_id": "http://127.0.0.1:9/a", "attempts": 1,
                       "reason": None},
            "tn-003": {"status": "retry", "article_id": None, "attempts": 1,
                       "reason": "time-out na 15 s"},
            "tn-004": {"status": "retry", "attempts": 2, "retry_at": "morgen", "extra": 1},
        }}}}))  # fmt: skip
    state = FeedState.load(path)
    record = state.feed("http://127.0.0.1:9/feed.xml")
    assert record.etag == '"abc"' and record.items["tn-001"].article_id == "http://127.0.0.1:9/a"
    assert record.items["tn-003"].due(time.time())  # no back-off recorded: tried at once
    assert record.items["tn-004"].due(time.time())  # nor when its time cannot be read
    assert state.removed == set()
    state.save()
    assert FeedState.load(path).feed("http://127.0.0.1:9/feed.xml").items == record.items


def test_since_leaves_older_items_out_until_a_run_reaches_further_back(
    site, store, fake_embeddings, settings
):  # type: ignore[no-untyped-def]
    summary, _ = run(site, store, fake_embeddings, settings, since="2025-03-01")
    assert summary.added == 2
    assert site.hits("/artikel/markt.html") == 0  # published 14 February
    assert site.hits("/artikel/brochure.pdf") == 0  # 28 February: not even tried
    assert [n.reason for n in summary.notes] == ["3 item(s) van vóór 2025-03-01 genegeerd"]
    again, _ = run(site, store, fake_embeddings, settings, since="2025-03-01")
    assert again.added == 0 and site.hits("/feed.xml") == 2
    further, _ = run(site, store, fake_embeddings, settings)  # no --since: the feed again, fully
    assert further.added == 1
    assert further.article_ids == [site.url("/artikel/markt.html")]
    assert site.hits("/artikel/bibliotheek.html") == 1  # what was done stays done


def test_items_whose_articles_left_the_index_are_fetched_again(
    site, store, fake_embeddings, settings
):  # type: ignore[no-untyped-def]
    _, state = run(site, store, fake_embeddings, settings)
    store.delete_article(site.url("/artikel/markt.html"))  # e.g. the collection was rebuilt
    summary, _ = run(site, store, fake_embeddings, settings, state=state)
    assert summary.added == 1
    assert summary.article_ids == [site.url("/artikel/markt.html")]


# --- keeping it fresh -------------------------------------------------------------------------


def test_watch_picks_up_new_items_and_a_running_app_sees_them(
    site, store, fake_embeddings, settings
):  # type: ignore[no-untyped-def]
    run(site, store, fake_embeddings, settings)  # the index an app is serving
    app_store = open_store(settings, spec_for(settings, fake_embeddings))
    state = FeedState.load(state_path(settings))
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            add_zwembad(site)  # news arrives while the watcher sleeps
        else:
            raise KeyboardInterrupt  # Ctrl-C

    def one_round() -> IngestSummary:
        return run(site, store, fake_embeddings, settings, state=state)[0]

    total, rounds = watch(one_round, interval_s=120, sleep=nap)
    assert (rounds, naps) == (2, [120, 120])
    assert total.added == 1 and total.article_ids == [site.url("/artikel/zwembad.html")]
    app_store.refresh_if_changed()  # what the app does before each question
    question = fake_embeddings.embed_query("Wanneer gaat zwembad De Spetter weer open?")
    assert site.url("/artikel/zwembad.html") in {h.url for h in app_store.dense_search(question, 5)}
    app_store.lexical.close()


def test_a_removal_while_the_feeds_are_watched_is_not_undone_by_the_watcher(
    site, store, fake_embeddings, settings, cli, capsys
):  # type: ignore[no-untyped-def]
    _, state = run(site, store, fake_embeddings, settings)  # the watcher keeps this in memory
    markt = site.url("/artikel/markt.html")
    code, _, err = cli(capsys, "--remove", markt, "--index", str(settings.index_dir))
    assert code == 0, err
    add_zwembad(site)  # the feed changes, so the watcher's next round reads it in full
    summary, _ = run(site, store, fake_embeddings, settings, state=state)
    assert summary.added == 1 and markt not in store.articles()
    assert site.hits("/artikel/markt.html") == 1
    state.save()
    assert FeedState.load(state_path(settings)).removed == {markt}


def test_watch_refuses_a_nonsense_interval() -> None:
    with pytest.raises(ValueError, match="must be > 0, got 0"):
        watch(IngestSummary, interval_s=0)


# --- the command ------------------------------------------------------------------------------


def test_cli_feed_adds_reports_and_is_a_no_op_the_second_time(site, cli, capsys, tmp_path):  # type: ignore[no-untyped-def]
    index = str(tmp_path / "index")
    argv = ["--feed", site.url("/feed.xml"), "--index", index, *CLI_FETCH]
    code, summary, _ = cli(capsys, *argv)
    assert code == 0
    assert summary["added"] == 3
    assert {(s["path"], s["reason"]) for s in summary["skipped"]} == expected_skips(site, "0.5")
    assert (tmp_path / "index" / "feeds-vraagbaak.json").is_file()

    site.clear_log()
    code, summary, _ = cli(capsys, *argv)
    assert code == 0
    assert (summary["added"], summary["updated"], summary["skipped"]) == (0, 0, [])
    assert summary["chunks"] > 0
    assert site.paths() == ["/feed.xml"]


def test_cli_reads_several_feeds_from_a_file_and_urls_from_the_command_line(
    site, cli, capsys, tmp_path
):  # type: ignore[no-untyped-def]
    site.page("/atom.xml", atom(site.base_url, standard_items()[4:5]),
              content_type="application/atom+xml")  # fmt: skip
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(f"# twee feeds\n{site.url('/atom.xml')}\n{site.url('/nergens.xml')}  # weg\n")
    code, summary, _ = cli(
        capsys, site.url("/artikel/markt.html?utm_source=x"), "--feeds-file", str(feeds),
        "--index", str(tmp_path / "index"), *CLI_FETCH,
    )  # fmt: skip
    assert code == 0
    assert summary["added"] == 2  # markt (a URL) and fietsbrug (from the Atom feed)
    assert summary["skipped"] == [
        {"path": site.url("/nergens.xml"), "reason": "feed niet opgehaald: HTTP 404"}
    ]


def test_cli_exit_code_is_1_when_nothing_could_be_ingested(site, cli, capsys, tmp_path):  # type: ignore[no-untyped-def]
    code, summary, _ = cli(
        capsys, site.url("/artikel/verdwenen.html"), "--index", str(tmp_path / "i"), *CLI_FETCH
    )
    assert code == 1
    assert summary["skipped"] == [
        {"path": site.url("/artikel/verdwenen.html"), "reason": "HTTP 404"}
    ]


def test_cli_reset_forgets_the_feed_state_with_the_index(site, cli, capsys, tmp_path):  # type: ignore[no-untyped-def]
    argv = ["--feed", site.url("/feed.xml"), "--index", str(tmp_path / "index"), *CLI_FETCH]
    cli(capsys, *argv)
    code, summary, _ = cli(capsys, *argv, "--reset")
    assert code == 0 and summary["added"] == 3


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--feed", "http://127.0.0.1:9/f", "--since", "gisteren"], "--since verwacht een datum"),
        (["--feed", "http://127.0.0.1:9/f", "--watch", "0"], "--watch moet meer dan 0 minuten"),
        (["http://127.0.0.1:9/a", "--watch", "5"], "--watch werkt alleen met --feed"),
        (["--feed", "http://127.0.0.1:9/f", "--timeout", "-1"], "--timeout moet meer dan 0"),
        (["--feed", "http://127.0.0.1:9/f", "--max-page-mb", "0"], "--max-page-mb moet meer"),
        (["--feeds-file", "/bestaat/niet.txt"], "kan /bestaat/niet.txt niet lezen"),
        ([], "Geef minstens één bestand, map, URL of feed op"),
    ],
)
def test_cli_bad_flags_end_with_one_clear_line(cli, capsys, tmp_path, argv, message):  # type: ignore[no-untyped-def]
    code, _, err = cli(capsys, *argv, "--index", str(tmp_path / "i"))
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


# --- the real command, in its own process -----------------------------------------------------

# The real entry point with one change: the fake embedder instead of a model. Without a model
# nothing needs torch, which spaCy's thinc would otherwise import (seconds per process).
_FAKE_MODEL_MAIN = (
    "import sys; sys.modules['torch'] = None\n"
    "import qa.index.embeddings as e\n"
    "from langchain_core.embeddings import DeterministicFakeEmbedding\n"
    "e.load_embeddings = lambda settings: DeterministicFakeEmbedding(size=64)\n"
    "from ingest.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(NO_PROXY="127.0.0.1", VRAAGBAAK_MODEL_CACHE=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO_ROOT))  # fmt: skip
    return env


def test_the_command_in_its_own_process_then_watching_until_ctrl_c(
    site: NewsSite, tmp_path: Path
) -> None:
    argv = [sys.executable, "-c", _FAKE_MODEL_MAIN, "--feed", site.url("/feed.xml"),
            "--index", str(tmp_path / "index"), *CLI_FETCH]  # fmt: skip
    first = subprocess.run(argv, capture_output=True, text=True, env=_env(tmp_path), timeout=120)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["added"] == 3 and len(summary["skipped"]) == 6
    assert f"overgeslagen: {site.url('/artikel/verdwenen.html')}: HTTP 404" in first.stderr

    # Then keep watching: the first round finds nothing new (304), the next one the new article.
    proc = subprocess.Popen(
        [*argv, "--watch", "0.01"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=_env(tmp_path),
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "ronde 1:" in line:
                add_zwembad(site)
            if "ronde 1:" not in line and "ronde " in line and "toegevoegd 1" in line:
                break
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log = "".join(lines) + err
    assert "ronde 1: toegevoegd 0, bijgewerkt 0, overgeslagen 0" in log
    assert proc.returncode == 0, log
    assert "Gestopt na" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["added"] == 1
    # The feed changed, but the page that timed out before waits for its back-off.
    assert summary["skipped"] == []
    waiting = {d["path"]: d["reason"] for d in summary["deferred"]}
    assert waiting[site.url("/artikel/traag.html")] == "time-out na 0.5 s"
    assert "overgeslagen (opnieuw proberen na " in err
    assert site.hits("/artikel/traag.html") == 1
    assert site.hits("/artikel/zwembad.html") == 1
    assert site.hits("/artikel/bibliotheek.html") == 1  # fetched by the first process only


@pytest.mark.integration
def test_python_m_ingest_with_the_real_model_then_an_answer_cites_url_and_date(
    site: NewsSite, tmp_path: Path, real_embeddings, model_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    from qa.pipeline import Pipeline

    env = _env(tmp_path) | {"VRAAGBAAK_MODEL_CACHE": str(model_cache)}
    argv = [sys.executable, "-m", "ingest", "--feed", site.url("/feed.xml"),
            "--index", str(tmp_path / "index"), *CLI_FETCH]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600,
                          cwd=REPO_ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["added"] == 3

    settings = Settings(index_dir=tmp_path / "index", model_cache=model_cache)
    store = open_store(settings, spec_for(settings, real_embeddings))
    answer = Pipeline(settings, real_embeddings, store).ask(
        "Wanneer opent de nieuwe bibliotheek in Voorbeeldstad?"
    )
    assert not answer.refused, answer
    assert answer.sources[0].url == site.url("/artikel/bibliotheek.html")
    assert answer.sources[0].date == "2025-03-03"
