"""Anchors: the names and numbers a question is about. An article that answers the question
must mention them, so the offline answerer refuses ("Wat gaf Poetin aan Biden?") when the
answer's article does not.

A mention is matched loosely, the way news writing varies a name:
- case, diacritics and a hyphenated common-noun head are ignored ("League-wedstrijd" is found
  as "World League", "500cc-race" as "500cc");
- inflected and derived forms of a name count ("Noord-Ierland" in "Noord-Ierse", "Tibet" in
  "Tibetaanse", "Moskou" in "Moskouse");
- a few metonyms of Dutch news count too ("Brussel" for the European Commission, "Moskou" for
  Russia, "VS" for "Amerikaanse", "Giro" for "Ronde van Italië").
"""

from __future__ import annotations

import re
from functools import lru_cache

from qa.text import fold, stop_words, words

QUESTION_WORDS = {"wie", "wat", "waar", "wanneer", "waarom", "hoe", "hoeveel", "welk", "welke"}
# Adjectives and demonyms of places ("Russische", "Italiaanse", "Belgen") are capitalised in
# Dutch but are descriptions, not names the answer must repeat.
_DEMONYM = re.compile(r"(s|sche|se|aans|aanse|ees|ese|isch|ische|en|er|ers)$")

# Metonyms and short forms of Dutch news: an anchor on the left is also found as any
# (folded) phrase on the right.
ALIASES: dict[str, tuple[str, ...]] = {
    "brussel": ("europese commissie", "europese unie", "eu", "commissie"),
    "moskou": ("rusland", "russisch", "kremlin"),
    "kremlin": ("rusland", "russisch", "moskou"),
    "washington": ("verenigde staten", "amerika", "vs", "witte huis"),
    "vs": ("verenigde staten", "amerika", "usa"),
    "usa": ("verenigde staten", "amerika", "vs"),
    "amerika": ("verenigde staten", "vs", "usa"),
    "den haag": ("kabinet", "regering", "tweede kamer"),
    "peking": ("china", "chinees", "beijing"),
    "beijing": ("china", "chinees", "peking"),
    "pyongyang": ("noord-korea",),
    "kiev": ("oekraine", "kyiv"),
    "kyiv": ("oekraine", "kiev"),
    "londen": ("brits", "groot-brittannie", "engeland"),
    "parijs": ("frankrijk", "frans"),
    "berlijn": ("duitsland", "duits"),
    "giro": ("ronde van italie",),
    "tour": ("ronde van frankrijk",),
    "vuelta": ("ronde van spanje",),
    "eu": ("europese unie", "brussel"),
    "vn": ("verenigde naties",),
    "navo": ("nato",),
    "nato": ("navo",),
}


_YEAR = re.compile(r"(1[5-9]|20)\d\d")
# A number the article must repeat: three digits or more, or part of a name ("A28", "500cc",
# "G8"). "de 5 kilometer" may well be "de 5000 meter" in the article.
_DISTINCT_NUMBER = re.compile(r"\d{3,}|\d[^\W\d]|[^\W\d]\d")


def anchors(question: str) -> list[str]:
    """Names and numbers the question is about: the answer's article must mention them."""
    out = []
    tokens = words(question)
    for i, word in enumerate(tokens):
        folded = fold(word)
        if folded in QUESTION_WORDS or folded in stop_words():
            continue
        # "Russische" is a description, but "Kramer" after "Sven" is a surname
        surname = i > 1 and tokens[i - 1][:1].isupper() and fold(tokens[i - 1]) not in stop_words()
        if (
            _DISTINCT_NUMBER.search(word)
            or word[:1].isupper()
            and i > 0
            and (surname or not (len(word) > 5 and _DEMONYM.search(folded)))
        ):
            out.append(word)
    return out


def missing_anchors(question: str, text: str, published: str | None = None) -> list[str]:
    """The anchors of ``question`` that ``text`` (an article) does not mention.

    News reports an event by its weekday ("zondag"), not its year, so a year the article does
    not name is only missing when the article's date (``published``, ISO) shows it is about
    another year: "Wie won de verkiezingen van 2023?" still finds an undated report of them."""
    return [
        a for a in anchors(question)
        if not mentions(text, a) and not (_YEAR.fullmatch(a) and _same_year(a, published))
    ]  # fmt: skip


def _same_year(year: str, published: str | None) -> bool:
    """Could an article published then be about ``year``? Yes when its date is unknown, in that
    year, or early the next year ("vorig jaar")."""
    if not published or not published[:4].isdigit():
        return True
    return int(published[:4]) - int(year) in (0, 1)


def mentions(text: str, anchor: str) -> bool:
    """Does ``text`` mention ``anchor``, allowing for the variations of a name in news text?"""
    haystack = fold(text)
    folded = fold(anchor)
    if _has_phrase(haystack, folded):
        return True
    if any(
        _has_phrase(haystack, alias, prefix=len(alias) >= 5) for alias in ALIASES.get(folded, ())
    ):
        return True
    # A hyphenated anchor: its name parts must be there; a common-noun head ("-wedstrijd",
    # "-race", "-film") may be worded differently.
    parts = [p for p in re.split(r"[-'’]", anchor) if p]
    names = [p for p in parts if p[:1].isupper() or any(ch.isdigit() for ch in p)] or parts
    if len(parts) > 1 and all(_mentions_part(text, haystack, p) for p in names):
        return True
    return len(parts) == 1 and _mentions_part(text, haystack, anchor)


def _mentions_part(text: str, haystack: str, part: str) -> bool:
    folded = fold(part)
    if _has_phrase(haystack, folded):
        return True
    if len(folded) < 4 or any(ch.isdigit() for ch in folded):
        return False
    # A derived form of the name: a capitalised word of the text sharing most of its start
    # ("Ierland" / "Ierse", "Tibet" / "Tibetaanse", "Brussel" / "Brusselse" but not "Bruggen").
    stem = folded[:-4] if folded.endswith("land") and len(folded) >= 7 else folded
    need = len(stem) if stem != folded else max(4, round(0.7 * len(folded)))
    if len(folded) >= 9:  # a compound name shares its first part: "Waddeneiland", "Waddenzee"
        need = min(need, 6)
    # A short name is too common a start for long words: "Tour" is not in "Tournament".
    longest = 5 if len(stem) <= 4 else 100
    return any(
        _common_prefix(stem, name) >= need and len(name) - len(stem) <= longest
        for name in _names(text)
    )


@lru_cache(maxsize=64)
def _names(text: str) -> frozenset[str]:
    names = set()
    for word in words(text):
        if word[:1].isupper():
            names.add(fold(word))
            names.update(fold(p) for p in re.split(r"[-'’]", word) if p)
    return frozenset(names)


def _has_phrase(haystack: str, phrase: str, *, prefix: bool = False) -> bool:
    """``phrase`` as whole words of ``haystack`` (with ``prefix``, as the start of a word)."""
    end = "" if prefix else r"(?!\w)"
    return re.search(r"(?<!\w)" + re.escape(phrase) + end, haystack) is not None


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# "Hoeveel toeschouwers ...?" asks to count something the article must at least name; these
# nouns are too general (or units of time) for that test.
_GENERIC_COUNTED = {
    "mensen", "personen", "man", "vrouwen", "kinderen", "keer", "maal", "jaar", "jaren", "tijd",
    "dagen", "weken", "maanden", "uur", "uren", "minuten", "seconden", "procent", "geld", "euro",
    "dollar", "meter", "kilometer", "kilo", "stuks", "punten", "van", "de", "het", "een",
    "is", "was", "waren", "heeft", "hebben", "had", "kost", "kostte", "zou", "zullen", "moet",
    "daarvan", "ervan", "hiervan", "er", "die", "dat", "deze", "dit", "hij", "zij", "ze", "we",
    "wij", "je", "u", "ik", "hun", "haar", "zijn", "leden", "deelnemers", "exemplaren",
    # verbs: "Hoeveel gaat de brug kosten?" counts nothing by name
    "gaat", "gaan", "ging", "gingen", "zal", "zouden", "moeten", "kan", "kunnen", "kon",
    "konden", "mag", "mogen", "wil", "willen", "wordt", "worden", "werd", "werden", "hadden",
    "kosten", "kostten", "bedraagt", "bedroeg", "staat", "stond", "levert", "leverde", "krijgt",
    "kreeg", "kregen", "betaalt", "betaalde", "verdient", "verdiende", "telt", "telde",
}  # fmt: skip
_COUNTED = re.compile(r"\bhoeveel\s+([a-z][\w-]*)")


def missing_counted(question: str, text: str) -> str | None:
    """The thing a "Hoeveel X ...?" question counts, when ``text`` never names it."""
    from qa.text import terms

    match = _COUNTED.search(fold(question))
    if match is None or match.group(1) in _GENERIC_COUNTED or match.group(1).endswith("geld"):
        return None
    from qa.answer.answer_types import synonyms

    have = set(terms(text))
    wanted = [terms(noun) for noun in synonyms(match.group(1))]
    if not any(wanted) or any(set(w) & have for w in wanted):
        return None
    # a derived form ("Hoeveel Nederlanders ...?" - "de Nederlandse nationaliteit") or the head
    # of a compound ("Hoeveel meldingen ...?" - "2.000 schademeldingen")
    noun = match.group(1)
    folded = [fold(w) for w in words(text)]
    if len(noun) >= 8 and any(_common_prefix(noun, w) >= 7 for w in folded):
        return None
    if len(noun) >= 5 and any(w.endswith(noun) for w in folded):
        return None
    return noun
