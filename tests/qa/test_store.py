"""The store's article list and removal: what a person sees in the list, and what removal takes
out (Chroma and the lexical index together, all or nothing, one change notice for readers)."""

from __future__ import annotations

import pytest

from ingest.pipeline import ingest_articles
from qa.errors import IndexEmptyError, UnknownArticleError, VraagbaakError
from qa.index.store import (
    GENERATION_KEY,
    ArticleInfo,
    ChunkStore,
    open_store,
    recorded_spec,
    spec_for,
)
from qa.settings import Settings
from qa.types import Article
from tests.conftest import BagOfWordsEmbeddings

ARTICLES = [
    Article("brug.txt", "De nieuwe fietsbrug in Voorbeeldstad gaat in april open. " * 3,
            title="Fietsbrug open", date="2025-04-10", source="Testnieuws"),
    Article("markt.txt", "De weekmarkt verhuist naar het Stationsplein in Voorbeeldstad. " * 3,
            title="Weekmarkt verhuist", date="2025-02-14", source="Testnieuws",
            url="https://nieuws.example/markt"),
    Article("bieb.txt", "De bibliotheek van Voorbeeldstad telt veertigduizend boeken. " * 3,
            title="Bibliotheek geopend", date="2025-04-10"),
    Article("zonder-datum.txt", "Het zwembad De Spetter gaat weer open na de verbouwing. " * 3,
            title="Zwembad weer open"),
]  # fmt: skip


@pytest.fixture
def filled(store: ChunkStore, fake_embeddings: BagOfWordsEmbeddings, settings: Settings):  # type: ignore[no-untyped-def]
    ingest_articles(ARTICLES, store=store, embeddings=fake_embeddings, settings=settings)
    return store


def _generation(store: ChunkStore) -> int:
    return int(store._fresh_collection().metadata[GENERATION_KEY])  # noqa: SLF001


def test_the_list_is_newest_first_then_by_title_with_undated_articles_last(filled) -> None:  # type: ignore[no-untyped-def]
    listed = filled.list_articles()
    assert [a.id for a in listed] == ["bieb.txt", "brug.txt", "markt.txt", "zonder-datum.txt"]
    markt = listed[2]
    assert markt == ArticleInfo(
        "markt.txt", "Weekmarkt verhuist", "2025-02-14", "Testnieuws",
        "https://nieuws.example/markt", markt.chunks,
    )  # fmt: skip
    assert sum(a.chunks for a in listed) == filled.count()
    assert all(a.chunks >= 1 for a in listed)


def test_removal_takes_articles_out_of_both_searches_and_leaves_the_rest(
    filled: ChunkStore, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    before = _generation(filled)
    assert filled.remove_articles(["markt.txt", "markt.txt"]) == 1
    assert [a.id for a in filled.list_articles()] == ["bieb.txt", "brug.txt", "zonder-datum.txt"]
    question = fake_embeddings.embed_query("Waar komt de weekmarkt van Voorbeeldstad?")
    assert "markt.txt" not in {h.article_id for h in filled.dense_search(question, 10)}
    assert filled.lexical_search(["weekmarkt"], 10) == []
    assert filled.lexical_search(["fietsbrug"], 10)  # the others untouched
    assert filled.count() == filled.lexical.count()
    assert _generation(filled) > before


def test_a_running_reader_sees_a_removal_at_once(
    filled: ChunkStore, settings: Settings, fake_embeddings: BagOfWordsEmbeddings
) -> None:
    reader = open_store(settings, spec_for(settings, fake_embeddings))
    filled.remove_articles(["brug.txt"])
    reader.refresh_if_changed()  # what the app does before each question
    assert "brug.txt" not in {a.id for a in reader.list_articles()}
    assert reader.lexical_search(["fietsbrug"], 10) == []


def test_one_unknown_id_removes_nothing_and_is_named(filled: ChunkStore) -> None:
    before = (_generation(filled), filled.list_articles())
    with pytest.raises(UnknownArticleError) as caught:
        filled.remove_articles(["markt.txt", "bestaat-niet.txt", "brug.txt"])
    assert isinstance(caught.value, VraagbaakError)
    assert caught.value.ids == ["bestaat-niet.txt"]
    assert "'bestaat-niet.txt'" in str(caught.value) and "niets verwijderd" in str(caught.value)
    assert (_generation(filled), filled.list_articles()) == before


def test_an_index_opens_for_listing_without_its_embedding_model(
    filled: ChunkStore, settings: Settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    spec = recorded_spec(settings)
    assert spec == filled.spec
    assert len(open_store(settings, spec).list_articles()) == len(ARTICLES)
    nowhere = Settings(index_dir=tmp_path / "nergens", model_cache=tmp_path / "cache")
    with pytest.raises(IndexEmptyError):
        recorded_spec(nowhere)
    assert not (tmp_path / "nergens").exists()
