"""The sources of an answer: one numbered entry per article, with the sentences it cites.

An answer cites sentences; readers think in articles. So the sentences an answer uses are
grouped by their article, numbered in the order the answer first uses them (``[1]``, ``[2]``),
and each source carries its whole article text with the cited sentences' spans, so a reader can
open ``[1]`` and see every sentence it stands for in context. Articles that were retrieved but
not cited are not sources; their titles are listed apart (``Answer.searched``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.types import Hit, Source

ArticleReader = Callable[[str], Sequence[Hit]]  # article id -> all its chunks, in order


@dataclass(frozen=True)
class Cited:
    """One cited sentence: where it is in its article (offsets into the article's text)."""

    hit: Hit  # a passage of the article that holds the sentence (for its metadata and text)
    start: int
    end: int


def article_text(chunks: Sequence[Hit]) -> tuple[str, int]:
    """The article's text rebuilt from its chunks (which may overlap), and the article offset
    where it starts: ``text[i - base]`` is the article's character ``i``. The gaps between
    chunks (the white space between paragraphs) become line breaks."""
    text, base, end = "", 0, 0
    for chunk in sorted(chunks, key=lambda c: c.start):
        chunk_end = chunk.start + len(chunk.text)
        if not text:
            text, base, end = chunk.text, chunk.start, chunk_end
        elif chunk_end > end:
            if chunk.start >= end:
                text += "\n" * (chunk.start - end) + chunk.text
            else:
                text += chunk.text[end - chunk.start :]
            end = chunk_end
    return text, base


def cite(
    sentences: Sequence[Cited], read_article: ArticleReader | None = None
) -> tuple[tuple[Source, ...], list[int]]:
    """Group ``sentences`` by article. Returns the sources (numbered from 1 in order of first
    use) and, for each sentence, the number of its source."""
    order: list[str] = []
    spans: dict[str, list[tuple[int, int]]] = {}
    first: dict[str, Hit] = {}
    numbers = []
    for s in sentences:
        aid = s.hit.article_id
        if aid not in spans:
            order.append(aid)
            spans[aid] = []
            first[aid] = s.hit
        if (s.start, s.end) not in spans[aid]:
            spans[aid].append((s.start, s.end))
        numbers.append(order.index(aid) + 1)
    sources = []
    for n, aid in enumerate(order, start=1):
        hit = first[aid]
        chunks = list(read_article(aid)) if read_article is not None else []
        text, base = article_text(chunks) if chunks else (hit.text, hit.start)
        own = sorted(spans[aid])
        if any(s - base < 0 or e - base > len(text) for s, e in own):
            text, base = article_text([hit, *[c.hit for c in sentences if c.hit.article_id == aid]])
        highlights = tuple((s - base, e - base) for s, e in own)
        sources.append(
            Source(
                n=n,
                article_id=aid,
                title=hit.title,
                text=text,
                highlights=highlights,
                date=hit.date,
                source=hit.source,
                url=hit.url,
            )  # fmt: skip
        )
    return tuple(sources), numbers


def searched_titles(hits: Sequence[Hit], cited: Sequence[Source]) -> tuple[str, ...]:
    """Titles of the retrieved articles that the answer does not cite, in rank order."""
    used = {s.article_id for s in cited}
    titles: dict[str, str] = {}
    for hit in hits:
        if hit.article_id not in used and hit.article_id not in titles:
            titles[hit.article_id] = hit.title or hit.article_id
    return tuple(titles.values())


_MARKER = re.compile(r"\[(\d+(?:, \d+)*)\]")


def cite_passages(
    text: str, passages: Sequence[Hit], cited: Sequence[int], read_article: ArticleReader | None
) -> tuple[str, tuple[Source, ...], tuple[int, ...]]:
    """A generated answer cites numbered passages ("[2]"); readers get articles. Each cited
    passage becomes its article's source, with the passage sentence that shares most words with
    the answer's sentences that cite it highlighted, and the markers are renumbered to match.
    Returns the renumbered text, the sources and the cited source numbers."""
    from qa.text import split_sentences, terms

    claims: dict[int, set[str]] = {}
    for s, e in split_sentences(text):
        sentence = text[s:e]
        for match in _MARKER.finditer(sentence):
            for n in (int(x) for x in match.group(1).split(", ")):
                claims.setdefault(n, set()).update(terms(_MARKER.sub("", sentence)))
    picked = []
    for n in cited:
        if not 1 <= n <= len(passages):
            continue
        passage = passages[n - 1]
        sentences = passage.sentence_texts() or [
            (passage.start, passage.start + len(passage.text), passage.text)
        ]
        wanted = claims.get(n, set())
        start, end, _ = max(sentences, key=lambda st: len(wanted & set(terms(st[2]))))
        picked.append((n, Cited(passage, start, end)))
    sources, numbers = cite([c for _, c in picked], read_article)
    renumber = {n: m for (n, _), m in zip(picked, numbers, strict=True)}

    def rewrite(match: re.Match[str]) -> str:
        new = dict.fromkeys(
            renumber[int(x)] for x in match.group(1).split(", ") if int(x) in renumber
        )
        return "[" + ", ".join(str(n) for n in new) + "]" if new else ""

    return _MARKER.sub(rewrite, text), sources, tuple(dict.fromkeys(numbers))
