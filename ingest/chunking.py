"""Cut an article into chunks of whole sentences, sized in the embedding model's own tokens.

The recipe, in order:
1. split the article into sentences (``qa.text.split_sentences``), keeping character offsets;
2. count each sentence's tokens with the model's tokenizer (one batched call);
3. pack sentences greedily until the next one would pass the budget (``max_tokens`` minus the
   title, which is embedded with every chunk);
4. start the next chunk ``overlap`` sentences back, so a fact on a boundary is in both;
5. a sentence longer than the whole budget is cut at word boundaries into pieces that fit.

Chunk ids are deterministic (article id + position), so re-ingesting replaces, never duplicates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from qa.text import split_sentences
from qa.types import Article, Chunk

TokenCounter = Callable[[list[str]], list[int]]


def chunk_id(article_id: str, index: int) -> str:
    digest = hashlib.sha1(article_id.encode("utf-8")).hexdigest()[:16]
    return f"{digest}-{index:04d}"


def chunk_article(
    article: Article, *, count_tokens: TokenCounter, max_tokens: int, overlap: int
) -> list[Chunk]:
    if max_tokens < 16:
        raise ValueError(f"chunk size must be at least 16 tokens, got {max_tokens}")
    if overlap < 0:
        raise ValueError(f"sentence overlap must be >= 0, got {overlap}")
    text = article.text
    spans = split_sentences(text)
    if not spans:
        return []
    title_tokens = count_tokens([article.title])[0] if article.title else 0
    budget = max(16, max_tokens - title_tokens - 4)
    sizes = count_tokens([text[s:e] for s, e in spans])
    spans, sizes = _split_long(text, spans, sizes, budget, count_tokens)

    groups: list[list[int]] = []
    i = 0
    while i < len(spans):
        group, used = [i], sizes[i]
        j = i + 1
        while j < len(spans) and used + sizes[j] <= budget:
            group.append(j)
            used += sizes[j]
            j += 1
        groups.append(group)
        if j >= len(spans):
            break
        # Step back for overlap, but always move forward by at least one sentence.
        i = max(group[0] + 1, j - overlap)

    chunks = []
    for index, group in enumerate(groups):
        start, end = spans[group[0]][0], spans[group[-1]][1]
        chunks.append(
            Chunk(
                id=chunk_id(article.id, index),
                article_id=article.id,
                index=index,
                text=text[start:end],
                start=start,
                end=end,
                sentences=tuple(spans[g] for g in group),
            )
        )
    return chunks


def _split_long(
    text: str,
    spans: list[tuple[int, int]],
    sizes: list[int],
    budget: int,
    count_tokens: TokenCounter,
) -> tuple[list[tuple[int, int]], list[int]]:
    """Cut sentences longer than the budget into word-aligned pieces that fit."""
    if all(size <= budget for size in sizes):
        return spans, sizes
    out_spans: list[tuple[int, int]] = []
    out_sizes: list[int] = []
    for (s, e), size in zip(spans, sizes, strict=True):
        if size <= budget:
            out_spans.append((s, e))
            out_sizes.append(size)
            continue
        # Estimate characters per token, cut at the last space before the estimate, re-count.
        pos = s
        while pos < e:
            chars_per_token = max(1.0, (e - s) / max(size, 1))
            cut = min(e, pos + int(budget * chars_per_token * 0.9))
            if cut < e:
                space = text.rfind(" ", pos + 1, cut)
                cut = space if space > pos else cut
            piece_size = count_tokens([text[pos:cut]])[0]
            while piece_size > budget and cut - pos > 1:
                cut = pos + (cut - pos) * 3 // 4
                piece_size = count_tokens([text[pos:cut]])[0]
            out_spans.append((pos, cut))
            out_sizes.append(piece_size)
            pos = cut
            while pos < e and text[pos].isspace():
                pos += 1
    return out_spans, out_sizes


def passage_text(title: str, chunk_text: str) -> str:
    """What is embedded for a chunk: its article's title, then the chunk."""
    return f"{title}\n{chunk_text}" if title else chunk_text
