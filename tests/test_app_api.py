"""The app's ``/ask`` API, called as the README shows it: gradio_client against a running app.

The app here is built with the sample pipeline (fake embeddings) and served on 127.0.0.1 in a
thread; the browser tests run the real ``app.py``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.pipeline import Pipeline

ANSWER_KEYS = {"answer", "refused", "query", "sources", "cited", "warnings", "mode", "searched"}
SOURCE_KEYS = {"n", "article_id", "title", "date", "source", "url", "text", "highlight",
               "highlights", "sentences"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def app_url(sample_pipeline: Pipeline) -> Iterator[str]:
    from ingest.pipeline import ingest_paths
    from qa.app import build_demo

    demo = build_demo(sample_pipeline, ingest_files=ingest_paths)
    port = _free_port()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_ask_as_the_readme_shows_it(app_url: str) -> None:
    url = app_url
    # --- the README snippet ---
    from gradio_client import Client

    client = Client(url)
    result = client.predict("Wat gaf Poetin aan Kim?", api_name="/ask")
    print(result["answer"])
    for source in result["sources"]:
        print(f"[{source['n']}] {source['title']}")

    follow_up = client.predict(
        "En wat gaf Kim terug?", ["Wat gaf Poetin aan Kim?"], api_name="/ask"
    )
    print(follow_up["answer"])

    # only some sources, or a period (ISO dates; either end may stay open)
    filtered = client.predict(
        "Wat gaf Poetin aan Kim?", sources=["NOS Nieuws"], date_from="2024-06", api_name="/ask"
    )
    print(filtered["answer"])
    # --- end of the README snippet ---

    assert set(result) == ANSWER_KEYS
    assert "limousine" in result["answer"] and result["cited"] == [1]
    assert result["refused"] is False and result["mode"] == "offline"
    assert set(result["sources"][0]) == SOURCE_KEYS
    assert result["sources"][0]["title"].startswith("Poetin haalt in Pyongyang banden aan")
    source = result["sources"][0]
    marked = [source["text"][start:end] for start, end in source["highlights"]]
    assert marked == source["sentences"] and any("limousine" in s for s in marked)
    assert "kunst" in follow_up["answer"]
    assert filtered["answer"] == result["answer"]  # the one NOS article answers either way
    assert filtered["searched"] == []  # nothing else is left to search


def test_filters_on_the_api(app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    lassy = "Lassy Small, krantentekst (UD Dutch Alpino)"
    other = client.predict("Wat gaf Poetin aan Kim?", sources=[lassy], api_name="/ask")
    assert {s["source"] for s in other["sources"]} <= {lassy}
    nothing = client.predict("Wat gaf Poetin aan Kim?", date_from="2030-01-01", api_name="/ask")
    assert nothing["answer"].startswith("Met deze filters blijft er geen artikel over")
    assert nothing["refused"] is True and nothing["sources"] == []
    bad = client.predict("Wat gaf Poetin aan Kim?", date_to="31-12-2024", api_name="/ask")
    assert "geen geldige datum" in bad["error"]


def test_errors_come_back_as_a_dutch_message(app_url: str) -> None:
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    assert client.predict("", api_name="/ask") == {
        "error": "Stel een vraag; het invoerveld is leeg."
    }
    assert "te lang" in client.predict("vraag " * 2000, api_name="/ask")["error"]


def test_ten_clients_at_once_all_get_answers(app_url: str) -> None:
    from gradio_client import Client

    questions = [
        "Wat gaf Poetin aan Kim?",
        "Wanneer bezocht Poetin Noord-Korea eerder?",
        "Waar ligt Spa-Francorchamps?",
        "Wat is Aswoensdag?",
        "Wie was Hergé?",
    ] * 2

    def ask(question: str) -> dict:  # type: ignore[type-arg]
        return Client(app_url, verbose=False).predict(question, api_name="/ask")  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(ask, questions))
    assert len(results) == 10
    assert all(set(r) == ANSWER_KEYS for r in results), [r for r in results if "error" in r]
    assert "limousine" in results[0]["answer"] and "limousine" in results[5]["answer"]
    assert "2000" in results[1]["answer"]


def test_removing_in_the_articles_tab_keeps_a_feed_from_bringing_it_back(
    sample_pipeline,
) -> None:  # type: ignore[no-untyped-def]
    # app.py hands the tab ingest's remover: the article leaves the index *and* the feed state
    # remembers it as removed, as with `python -m ingest --remove`.
    from ingest.feeds import FeedState, remove_articles, state_path
    from qa.app.articles import Desk

    settings = sample_pipeline.settings
    desk = Desk(
        sample_pipeline.store,
        remove=lambda ids: remove_articles(ids, store=sample_pipeline.store, settings=settings),
    )
    desk.delete(["nos-poetin-kim-2024-06.txt"])
    assert "nos-poetin-kim-2024-06.txt" not in {a.id for a in desk.articles()}
    assert "nos-poetin-kim-2024-06.txt" in FeedState.load(state_path(settings)).removed
