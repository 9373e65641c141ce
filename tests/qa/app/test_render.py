"""The small helpers: text shown as text, Dutch dates, safe links, status and error messages."""

from __future__ import annotations

import pytest

from qa.app.render import (
    count_articles,
    error_message,
    escape_text,
    format_date,
    mode_label,
    render_status,
    safe_url,
)
from qa.errors import IndexEmptyError, InvalidQuestionError
from tests.qa.app.conftest import IMG, SCRIPT


@pytest.mark.parametrize("payload", [IMG, SCRIPT, "<b onmouseover=alert(1)>x</b>"])
def test_escape_text_shows_html_as_text(payload: str) -> None:
    out = escape_text(f"Voor {payload} na")
    assert "<" not in out
    assert "&lt;" in out


def test_escape_text_defuses_markdown() -> None:
    out = escape_text("**vet** en [link](javascript:alert(1))\n# kop\n    ingesprongen\n1. lijst")
    assert "\\*\\*vet\\*\\*" in out
    assert "\\[link\\]" in out
    assert "\\# kop" in out
    assert "\ningesprongen" in out  # no code block
    assert "1\\. lijst" in out


@pytest.mark.parametrize(
    ("date", "shown"),
    [
        ("2024-06-19", "19 juni 2024"),
        ("2024-06", "juni 2024"),
        ("2024", "2024"),
        ("2024-13", "2024-13"),
        ("gisteren", "gisteren"),
        (None, ""),
    ],
)
def test_format_date_in_dutch(date: str | None, shown: str) -> None:
    assert format_date(date) == shown


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://nos.nl/artikel/1", True),
        ("http://example.org/a?b=1&c=2", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
        ("ftp://example.org/a", False),
        ("https://exa mple.org", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url_allows_only_http_links(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


def test_counts_in_dutch() -> None:
    assert count_articles(1) == "1 artikel"
    assert count_articles(61) == "61 artikelen"
    assert count_articles(0) == "0 artikelen"


def test_mode_label_and_status() -> None:
    assert mode_label("offline") == "Antwoord uit de artikelen (offline)"
    assert mode_label("openai:gpt-4o-mini") == "Antwoord van taalmodel openai:gpt-4o-mini"
    status = render_status("offline", ["Let op: <b>x</b>"])
    assert "Antwoord uit de artikelen (offline)" in status and "&lt;b&gt;" in status


def test_error_messages_are_dutch_and_say_what_to_do() -> None:
    empty = error_message(IndexEmptyError("De index is leeg."), can_upload=True)
    assert "Artikelen toevoegen" in empty and "tabblad" in empty
    assert error_message(InvalidQuestionError("Stel een vraag.")) == "Stel een vraag."
    assert error_message(RuntimeError("kapot")).startswith("Er ging iets mis: kapot.")
    assert error_message(RuntimeError("x" * 500)).count("x") < 210
