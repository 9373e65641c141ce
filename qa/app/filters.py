"""The chat's filters: which sources, and a date range, read from the page and checked.

The page gives strings (a date field may hold anything a person types); ``make_filters`` turns
them into ``qa.index.retrieval.Filters`` or raises ``InvalidQuestionError`` with a Dutch message
that quotes the bad value. Retrieval applies the filters to both its searches (dense and BM25).

A filter can leave nothing to answer from; the pipeline then retrieves nothing and refuses
without a source. ``left_nothing`` recognises that answer so the app can say why instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence

from qa.app.render import format_date
from qa.errors import InvalidQuestionError
from qa.index.retrieval import NO_FILTERS, Filters
from qa.types import Answer

NOTHING_LEFT = (
    "Met deze filters blijft er geen artikel over om uit te antwoorden. Kies andere bronnen of "
    "een ruimere periode, of zet de filters uit."
)
_ISO = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def parse_date(value: object, label: str) -> str | None:
    """An ISO date (YYYY-MM-DD, or YYYY-MM / YYYY for a whole month or year), or None when
    empty. ``label`` names the field in the message ('Vanaf', 'Tot en met')."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    m = _ISO.fullmatch(text)
    if m:
        year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
        try:
            dt.date(year, month, day)
            return text
        except ValueError:
            pass
    raise InvalidQuestionError(
        f"\u2018{text}\u2019 bij \u2018{label}\u2019 is geen geldige datum. Schrijf de datum als "
        "JJJJ-MM-DD, bijvoorbeeld 2024-06-19 (of JJJJ-MM, of JJJJ)."
    )


def make_filters(
    sources: Sequence[str] | str | None = None,
    date_from: object = None,
    date_to: object = None,
) -> Filters:
    """Filters from the page's (or the API's) values; empty values filter nothing."""
    if isinstance(sources, str):
        sources = [sources]
    chosen = tuple(dict.fromkeys(s.strip() for s in (sources or []) if isinstance(s, str)))
    chosen = tuple(s for s in chosen if s)
    start = parse_date(date_from, "Vanaf")
    end = parse_date(date_to, "Tot en met")
    if start and end and _low(start) > _high(end):
        raise InvalidQuestionError(
            f"De begindatum ({start}) ligt na de einddatum ({end}). Draai ze om."
        )
    filters = Filters(chosen, start, end)
    return NO_FILTERS if filters == NO_FILTERS else filters


def _low(date: str) -> str:
    return (date + "-01-01")[:10] if len(date) < 10 else date


def _high(date: str) -> str:
    return date + ("-12-31" if len(date) == 4 else "-31" if len(date) == 7 else "")


def describe(filters: Filters) -> str:
    """The filters in words, for under an answer: 'Bron: NOS Nieuws · vanaf 1 juni 2024'."""
    parts = []
    if filters.sources:
        label = "Bron" if len(filters.sources) == 1 else "Bronnen"
        parts.append(f"{label}: {', '.join(filters.sources)}")
    if filters.date_from:
        parts.append(f"vanaf {format_date(filters.date_from)}")
    if filters.date_to:
        parts.append(f"tot en met {format_date(filters.date_to)}")
    return " \u00b7 ".join(parts)


def left_nothing(answer: Answer, filters: Filters) -> bool:
    """Whether the filters left nothing to answer from: filtered, and nothing was retrieved."""
    return (
        filters != NO_FILTERS
        and not answer.retrieved
        and not answer.sources
        and not answer.searched
    )


def explain_empty(answer: Answer, filters: Filters) -> Answer:
    """The answer, or, when the filters left nothing, a refusal that says so."""
    if not left_nothing(answer, filters):
        return answer
    return dataclasses.replace(answer, answer=NOTHING_LEFT, refused=True, cited=())


def to_json(filters: Filters) -> dict[str, object]:
    return {"sources": list(filters.sources), "date_from": filters.date_from,
            "date_to": filters.date_to}  # fmt: skip


def from_json(data: object) -> Filters:
    """Filters saved with a conversation; anything unreadable filters nothing."""
    if not isinstance(data, dict):
        return NO_FILTERS
    try:
        return make_filters(data.get("sources"), data.get("date_from"), data.get("date_to"))
    except InvalidQuestionError:
        return NO_FILTERS
