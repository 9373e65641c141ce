"""The sources panel: one entry per cited article with its cited sentences, the article text
with those sentences marked, and "Ook doorzocht"; every piece of text escaped."""

from __future__ import annotations

import pytest

from qa.app.sources import highlight_passage, render_searched, render_source, render_sources
from tests.qa.app.conftest import IMG, SCRIPT, TEXT, make_answer, make_source


def test_highlight_marks_every_span_and_escapes_all_parts() -> None:
    text = f"Eerste zin. Tweede {SCRIPT} zin. {IMG} Derde. Vierde."
    second = (text.index("Tweede"), text.index("zin.", text.index("Tweede")) + 4)
    fourth = (text.index("Vierde"), len(text))
    out = highlight_passage(text, [fourth, second])  # order does not matter
    assert out.startswith("Eerste zin. <mark>Tweede &lt;script&gt;")
    assert "</mark> &lt;img src=x" in out
    assert out.endswith("<mark>Vierde.</mark>")
    assert out.count("<mark>") == 2
    assert "<script" not in out and "<img" not in out


@pytest.mark.parametrize("spans", [[], [(5, 5)], [(-1, 3)], [(3, 999)], [(9, 2)]])
def test_highlight_ignores_missing_or_bad_spans(spans: list[tuple[int, int]]) -> None:
    assert highlight_passage("Een <b> zin.", spans) == "Een &lt;b&gt; zin."


def test_highlight_leaves_out_an_overlapping_span() -> None:
    out = highlight_passage("abcdefghij", [(0, 5), (3, 8)])
    assert out == "<mark>abcde</mark>fghij"


def test_one_entry_per_article_with_its_cited_sentences() -> None:
    source = make_source(highlights=((0, 11), (24, 34)))
    out = render_source(source, 2, cited=True)
    assert 'id="bron-2-1" open>' in out
    assert '<span class="vb-title">Titel 1</span>' in out
    assert "NOS Nieuws · 19 juni 2024" in out and 'href="https://nos.nl/artikel/1"' in out
    assert "<li>\u201cEerste zin.\u201d</li><li>\u201cDerde zin.\u201d</li>" in out
    assert "Tweede zin." not in out.split("vb-zinnen")[1].split("</ul>")[0]
    article = out.split('<details class="vb-artikel">')[1]
    assert "Lees het hele artikel" in article  # the whole text, folded until opened
    assert "<mark>Eerste zin.</mark> Tweede zin. <mark>Derde zin.</mark>" in article


def test_a_source_escapes_everything_and_links_only_http() -> None:
    evil = make_source(
        title=f"Titel {SCRIPT}", source=IMG, url='https://x.nl/"><script>',
        text=f"{SCRIPT} Tweede zin.", highlights=((0, len(SCRIPT)),),
    )  # fmt: skip
    out = render_source(evil, 1, cited=True)
    assert "<script" not in out and "<img" not in out
    assert 'href="https://x.nl/&quot;&gt;&lt;script&gt;"' in out
    assert "\u201c&lt;script&gt;window.__xss=2&lt;/script&gt;\u201d" in out
    no_link = render_source(make_source(url="javascript:alert(1)"), 1, cited=False)
    assert "href" not in no_link and "javascript" not in no_link
    assert " open>" not in no_link


def test_a_passage_without_marked_sentences_is_shown_whole() -> None:
    out = render_source(make_source(highlights=()), 1, cited=True)  # an LLM's passage
    assert f'<p class="vb-passage">{TEXT}</p>' in out and "vb-zinnen" not in out


def test_the_panel_lists_the_cited_articles_then_what_else_was_searched() -> None:
    answer = make_answer(
        "Tweede zin. [1] Derde zin. [2]", make_source(1), make_source(2),
        searched=("Ander artikel", f"Nog een {SCRIPT}"),
    )  # fmt: skip
    out = render_sources(answer, 1)
    assert out.index("bron-1-1") < out.index("bron-1-2") < out.index("Ook doorzocht")
    assert out.count(" open>") == 2
    assert "Ander artikel; Nog een &lt;script&gt;" in out


def test_uncited_sources_are_folded_under_their_own_heading() -> None:
    answer = make_answer("x [2]", make_source(1), make_source(2), make_source(3), cited=(2,))
    out = render_sources(answer, 1)
    assert out.index("bron-1-2") < out.index("Ook gevonden") < out.index("bron-1-1")
    assert out.count(" open>") == 1


def test_a_refusal_says_its_source_is_only_the_nearest() -> None:
    nearest = "Dat staat niet in de artikelen. Het dichtst erbij komt: \u201cx\u201d [1]"
    refused = make_answer(nearest, refused=True)
    assert "dichtst bij" in render_sources(refused, 1)
    nothing = make_answer("Dat staat niet in de artikelen.", refused=True, sources=(), cited=())
    assert "Geen artikel geciteerd" in render_sources(nothing, 1)


def test_searched_line_is_short_and_absent_when_empty() -> None:
    assert render_searched([]) == ""
    many = render_searched([f"T{i}" for i in range(12)], limit=8)
    assert "T7" in many and "T8" not in many and "en 4 meer" in many
    long = render_searched(["Een titel die eigenlijk de eerste zin van het artikel is."], width=20)
    assert "Een titel die eigen\u2026</p>" in long
