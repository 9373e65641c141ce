"""Read article files into :class:`qa.types.Article` objects.

One reader per format (.txt, .md, .html/.htm, .json/.jsonl, .csv), chosen by extension. Every
problem with one file or one record becomes a :class:`Skipped` with a reason a person can act on;
nothing here raises for bad input, so one bad file never stops the rest.

This module does not chunk, embed or store anything; see ``ingest.pipeline`` for that.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.text import MONTHS
from qa.types import Article

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".csv"}
_MAGIC = (b"\x89PNG", b"%PDF", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x7fELF", b"\x1f\x8b")


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


Result = Article | Skipped


def find_files(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """(root, file) for every article file under ``paths``, recursively, symlink loops avoided."""
    for root in paths:
        if root.is_file():
            yield root, root
            continue
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:  # a symlink loop: do not walk the same folder twice
                dirnames[:] = []
                continue
            seen.add(real)
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES:
                    yield root, Path(dirpath) / name


def article_id_for(root: Path, path: Path) -> str:
    """A stable id for a file without one: its path relative to the folder that was ingested."""
    if root == path:
        return path.name
    return path.relative_to(root).as_posix()


def read_file(path: Path, *, article_id: str, max_bytes: int) -> list[Result]:
    """All articles in one file, or the reasons they could not be read."""
    shown = str(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return [Skipped(shown, "leeg bestand")]
        if size > max_bytes:
            mb = max_bytes / 1_000_000
            return [Skipped(shown, f"te groot ({size / 1e6:.1f} MB, limiet {mb:.0f} MB)")]
        data = path.read_bytes()
    except OSError as err:
        return [Skipped(shown, f"kan niet gelezen worden: {err.strerror or err}")]
    return read_bytes(data, name=path.name, article_id=article_id, path=shown)


def read_bytes(data: bytes, *, name: str, article_id: str, path: str) -> list[Result]:
    """Parse one file's bytes by the extension of ``name``."""
    if not data.strip():
        return [Skipped(path, "leeg bestand")]
    if _looks_binary(data):
        return [Skipped(path, "binair bestand, geen tekst")]
    text, notes = decode(data)
    suffix = Path(name).suffix.lower()
    base = {"id": article_id, "path": path, "notes": notes}
    if suffix in {".json", ".jsonl"}:
        return _read_records_json(text, base, jsonl=suffix == ".jsonl")
    if suffix == ".csv":
        return _read_csv(text, base)
    if suffix in {".html", ".htm"}:
        return [_one(_read_html(text), base, path)]
    if suffix in {".md", ".markdown"}:
        return [_one(_read_markdown(text), base, path)]
    return [_one(_read_txt(text), base, path)]


def _looks_binary(data: bytes) -> bool:
    head = data[:4096]
    if head.startswith(_MAGIC) or b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control > len(head) * 0.05


def decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    """UTF-8 when possible; otherwise cp1252 (which Dutch Windows text uses), else latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), ()
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), ("geen UTF-8; gelezen als cp1252",)
    except UnicodeDecodeError:
        return data.decode("latin-1"), ("geen UTF-8; gelezen als latin-1",)


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _one(fields: dict[str, Any], base: dict[str, Any], path: str) -> Result:
    article = _article({**base, **fields})
    return article if isinstance(article, Article) else Skipped(path, article)


def _article(record: dict[str, Any]) -> Article | str:
    """An Article from a record, or the reason there is none."""
    text = record.get("text")
    if not isinstance(text, str) or not _clean(text):
        return "geen tekst"
    text = _clean(text)
    title = _clean(str(record.get("title") or "")).replace("\n", " ")
    if not title:
        title = first_sentence(text)
    return Article(
        id=str(record["id"]),
        text=text,
        title=title,
        date=normalize_date(record.get("date")),
        source=_str_or_none(record.get("source")),
        url=_str_or_none(record.get("url")),
        path=record.get("path"),
        notes=tuple(record.get("notes") or ()),
    )


def _str_or_none(value: Any) -> str | None:
    return str(value).strip() or None if value not in (None, "") else None


def first_sentence(text: str, limit: int = 120) -> str:
    """A title for an article that has none: its first sentence, shortened."""
    from qa.text import split_sentences

    spans = split_sentences(text[:2000])
    first = text[spans[0][0] : spans[0][1]] if spans else text
    first = " ".join(first.split())
    return first if len(first) <= limit else first[: limit - 1].rsplit(" ", 1)[0] + "…"


_MONTHS = {m: i + 1 for i, m in enumerate(MONTHS)}


def normalize_date(value: Any) -> str | None:
    """ISO form (YYYY, YYYY-MM or YYYY-MM-DD) of a date given in a common form, else None."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if m := re.match(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text):
        year, month, day = m.groups()
        return "-".join([year] + [f"{int(x):02d}" for x in (month, day) if x])
    if m := re.match(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text):
        day, month, year = m.groups()
        return f"{year}-{int(month):02d}-{int(day):02d}"
    if m := re.match(r"^(\d{1,2})\s+([a-z]+)\s+(\d{4})", text.lower()):
        day, month_name, year = m.groups()
        if month_name in _MONTHS:
            return f"{year}-{_MONTHS[month_name]:02d}-{int(day):02d}"
    try:
        from email.utils import parsedate_to_datetime

        return parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        return None


# --- formats ----------------------------------------------------------------------------------

# The NOS export header: "date 2024-06 AFP" then "NOS Nieuws • vandaag, 11:48 <headline>".
_EXPORT_DATE = re.compile(r"^\s*date\s+(?P<date>\d{4}(?:-\d{2}){0,2})\s*(?P<agency>.*)$", re.I)
_EXPORT_TITLE = re.compile(
    r"^\s*(?P<outlet>[^•\n]{2,60}?)\s*•\s*(?P<when>[^,\n]{1,40},\s*\d{1,2}[:.]\d{2}|\S+)\s+"
    r"(?P<title>\S.*)$"
)


def _read_txt(text: str) -> dict[str, Any]:
    text = _clean(text)
    lines = text.split("\n")
    fields: dict[str, Any] = {"text": text}
    m_date = _EXPORT_DATE.match(lines[0]) if lines else None
    rest = [line for line in lines[1:4] if line.strip()]
    m_title = _EXPORT_TITLE.match(rest[0]) if m_date and rest else None
    if m_date and m_title:
        title_line = text.index(rest[0]) + len(rest[0])
        fields = {
            "text": text[title_line:].strip(),
            "title": m_title["title"].strip(),
            "date": m_date["date"],
            "source": m_title["outlet"].strip(),
            "agency": m_date["agency"].strip() or None,
        }
    return fields


_FRONT_MATTER = re.compile(r"^---\s*\n(.*?)\n---\s*\n", re.S)


def _read_markdown(text: str) -> dict[str, Any]:
    import yaml

    text = _clean(text)
    meta: dict[str, Any] = {}
    if m := _FRONT_MATTER.match(text + "\n"):
        try:
            loaded = yaml.safe_load(m.group(1))
            meta = loaded if isinstance(loaded, dict) else {}
        except (yaml.YAMLError, RecursionError):
            meta = {}
        text = text[m.end() :] if m.end() <= len(text) else ""
    title = meta.get("title")
    if heading := re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        title = title or heading.group(1).strip()
        if heading.start() == 0 or not text[: heading.start()].strip():
            text = text[heading.end() :]
    body = re.sub(r"^#{1,6}\s+", "", text, flags=re.M)  # sub-headings become plain lines
    body = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", body)  # links keep their text
    body = re.sub(r"(\*\*|__|`)", "", body)
    return {
        **{k: meta.get(k) for k in ("date", "source", "url", "id") if meta.get(k)},
        "title": title,
        "text": body,
    }


def _read_html(text: str) -> dict[str, Any]:
    import trafilatura

    try:
        extracted = trafilatura.bare_extraction(
            text,
            with_metadata=True,
            include_comments=False,
            # The publication date only: not a date mentioned somewhere in the text.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception:  # trafilatura raises many kinds on broken markup  # noqa: BLE001
        extracted = None
    if extracted is None:
        return {"text": ""}
    data = extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
    return {
        "text": data.get("text") or "",
        "title": data.get("title"),
        "date": data.get("date"),
        "source": data.get("sitename"),
        "url": data.get("url"),
    }


def _read_records_json(text: str, base: dict[str, Any], *, jsonl: bool) -> list[Result]:
    path = base["path"]
    records: list[tuple[str, Any]] = []
    if jsonl:
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"regel {lineno}", json.loads(line)))
            except json.JSONDecodeError as err:
                records.append((f"regel {lineno}", _Broken(f"ongeldige JSON ({err.msg})")))
            except RecursionError:
                records.append((f"regel {lineno}", _Broken("JSON te diep genest")))
    else:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as err:
            return [Skipped(path, f"ongeldige JSON op regel {err.lineno}: {err.msg}")]
        except RecursionError:
            return [Skipped(path, "JSON te diep genest")]
        items = loaded if isinstance(loaded, list) else [loaded]
        records = [(f"item {i}", item) for i, item in enumerate(items, start=1)]
    return _records(records, base)


class _Broken:
    def __init__(self, reason: str) -> None:
        self.reason = reason


def _records(records: list[tuple[str, Any]], base: dict[str, Any]) -> list[Result]:
    out: list[Result] = []
    path = base["path"]
    for where, record in records:
        if isinstance(record, _Broken):
            out.append(Skipped(f"{path}:{where}", record.reason))
            continue
        if not isinstance(record, dict):
            out.append(Skipped(f"{path}:{where}", "geen object met een 'text'-veld"))
            continue
        fields = {
            k: v for k, v in record.items() if k in {"title", "date", "source", "url", "text"}
        }
        given = record.get("id")
        rid = str(given).strip() if given not in (None, "") else f"{base['id']}#{where.split()[-1]}"
        article = _article({**fields, "id": rid, "path": path, "notes": base["notes"]})
        out.append(article if isinstance(article, Article) else Skipped(f"{path}:{where}", article))
    return out


def _read_csv(text: str, base: dict[str, Any]) -> list[Result]:
    path = base["path"]
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in reader.fieldnames or []]
    except csv.Error as err:
        return [Skipped(path, f"ongeldige CSV: {err}")]
    if "text" not in header:
        return [Skipped(path, f"CSV zonder kolom 'text' (kolommen: {', '.join(header) or 'geen'})")]
    records: list[tuple[str, Any]] = []
    try:
        for lineno, row in enumerate(reader, start=2):
            clean = {str(k).strip().lower(): v for k, v in row.items() if k is not None}
            records.append((f"regel {lineno}", clean))
    except csv.Error as err:
        return [Skipped(path, f"ongeldige CSV: {err}")]
    return _records(records, base)
