"""Small builders shared by the app's tests."""

from __future__ import annotations

from typing import Any

from qa.types import Answer, Source

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=2</script>"
TEXT = "Eerste zin. Tweede zin. Derde zin."


def make_source(n: int = 1, **changes: Any) -> Source:
    values: dict[str, Any] = {
        "n": n,
        "article_id": f"a{n}.txt",
        "title": f"Titel {n}",
        "text": TEXT,
        "highlights": ((12, 23),),
        "date": "2024-06-19",
        "source": "NOS Nieuws",
        "url": "https://nos.nl/artikel/1",
    }
    values.update(changes)
    return Source(**values)


def make_answer(text: str = "Tweede zin. [1]", *sources: Source, **changes: Any) -> Answer:
    sources = sources or (make_source(),)
    values: dict[str, Any] = {
        "answer": text,
        "refused": False,
        "query": "Welke zin?",
        "sources": sources,
        "cited": tuple(s.n for s in sources),
    }
    values.update(changes)
    return Answer(**values)
