"""What kind of answer a Dutch question asks for, and whether a sentence contains one.

``expected_type("Wanneer ...?")`` is DATE, ``"Hoeveel kostte ...?"`` is MONEY, and so on;
``has_type(sentence, DATE)`` looks for a year, a month, a weekday or a relative date. These are
rules, not a trained tagger (no Dutch NER model installs offline); they decide two things in the
offline answerer: which sentences are preferred, and when to refuse because no sentence holds the
kind of thing asked for ("Hoeveel kostte de limousine?" when no price is given).
"""

from __future__ import annotations

import re
from enum import Enum

from qa.text import MONTHS, fold, stop_words, words


class AnswerType(Enum):
    PERSON = "persoon of organisatie"
    NAME = "naam"
    AGE = "leeftijd"
    ORDINAL = "plaats in de rangorde"
    DATE = "datum of tijd"
    PLACE = "plaats"
    NUMBER = "aantal"
    MONEY = "bedrag"
    REASON = "reden"


_WELK_NOUNS = {
    AnswerType.DATE: "jaar jaartal datum dag maand eeuw week seizoen tijdstip periode decennium",
    AnswerType.PLACE: (
        "land stad plaats provincie gemeente regio dorp werelddeel continent hoofdstad gebied "
        "locatie circuit haven rivier eiland straat wijk deelstaat"
    ),
    AnswerType.PERSON: (
        "partij club ploeg bedrijf organisatie krant team persoon speler minister trainer "
        "president politicus man vrouw kunstenaar schilder schrijver renner coach leider "
        "vakbond omroep zender instelling vereniging uitgeverij band groep familie koning "
        "bureau firma concern fabrikant stichting bank productiehuis maatschappij"
    ),
    AnswerType.NAME: (
        "roman boek film lied album single serie programma voorstelling musical opera "
        "toneelstuk titel bijnaam merk"
    ),
}
_WELK = {noun: atype for atype, nouns in _WELK_NOUNS.items() for noun in nouns.split()}

_RULES: list[tuple[re.Pattern[str], AnswerType]] = [
    (re.compile(r"\b(hoeveel|wat)\s+(kost|kostte|kostten|kosten|bedraagt|bedroeg|betaalde|"
                r"verdient|verdiende|opbrengst)\b|\bhoe\s+duur\b|\bwelk\s+bedrag\b|"
                r"\bhoeveel\s+(\w*geld|euro|dollar)\b|\bwat\s+(is|was|wordt|werd)\s+de\s+prijs\b|"
                r"\b(hoeveel|wat)\b.*\b(kost|kostte|kosten|betalen|betaalt|betaalde|betaald|"
                r"verdienen|verdient|verdiende|verdiend|opgebracht|opbrengen|opgeleverd)\b"),
     AnswerType.MONEY),
    (re.compile(r"\bhoe\s+oud\b|\b(welke|op\s+welke)\s+leeftijd\b"), AnswerType.AGE),
    (re.compile(r"\bhoeveel\b.*\b(waard|waarde)\b|\bwat\s+is\b.*\bwaard\b"), AnswerType.MONEY),
    (re.compile(r"\bhoeveelste\b|\bop\s+welke\s+plaats\s+(eindig|finish|kwam|kwamen|staat|"
                r"stond|stonden|belandde|werd|werden)"), AnswerType.ORDINAL),
    (re.compile(r"\b(hoeveel|hoe\s*veel|hoe\s+oud|hoe\s+lang|hoelang|hoe\s+groot|hoe\s+hoog|"
                r"hoe\s+ver|hoe\s+zwaar|hoe\s+vaak|welk\s+percentage|welk\s+aantal)\b"),
     AnswerType.NUMBER),
    (re.compile(r"\b(wanneer|sinds\s+wanneer|tot\s+wanneer|hoe\s+laat|welk\s+jaar|"
                r"in\s+welk\s+jaar)\b"), AnswerType.DATE),
    (re.compile(r"\b(waar|waarheen|waarvandaan|vanwaar)\b(?!\s*(om|door|voor|mee|over|op|van|"
                r"aan|in|uit|naar|bij|tegen|toe)\b)"), AnswerType.PLACE),
    (re.compile(r"\b(waarom|waardoor|om\s+welke\s+reden|hoe\s+komt\s+het|hoe\s+kwam\s+het)\b|"
                r"\bwat\s+(is|was|zijn|waren)\s+de\s+(oorzaak|oorzaken|reden|redenen|aanleiding)\b"),
     AnswerType.REASON),
    (re.compile(r"^(\w+\s+)?(wie|wiens|wier)\b|\b(door|met|aan|voor|van|tegen|naast|over)\s+wie\b"),
     AnswerType.PERSON),
    (re.compile(r"\bhoe\s+(heet|heette|heten|heetten)\b|\bwat\s+(is|was)\s+de\s+(\w+\s+)?naam\b"),
     AnswerType.NAME),
]  # fmt: skip


def expected_type(question: str) -> AnswerType | None:
    q = fold(question).strip()
    # The question word that comes first decides: "Wie legden het werk neer, waardoor ...?"
    # asks for a person, not a reason. Rules that match at the same place keep their order.
    found: list[tuple[int, int, AnswerType | None]] = []
    for order, (pattern, atype) in enumerate(_RULES):
        if match := pattern.search(q):
            found.append((match.start(), order, atype))
    if m := re.search(r"\bwelke?\s+([\w-]+)(?:\s+([\w-]+))?", q):  # "Welke coureur": no kind
        kind = _welk_kind(m.group(1)) or (_welk_kind(m.group(2)) if m.group(2) else None)
        found.append((m.start(), len(_RULES), kind))  # "Welk Belgisch productiehuis"
    return min(found, key=lambda f: (f[0], f[1]))[2] if found else None


def _welk_kind(noun: str) -> AnswerType | None:
    """The kind of answer "Welk(e) <noun>" asks for; a compound by its head ("voetbalclub"),
    but "roman" is no "man"."""
    for known, atype in _WELK.items():
        if noun in (known, known + "en") or noun.endswith(known) and len(noun) >= len(known) + 3:
            return atype
    return None


_MONTHS = [
    *MONTHS,
    "jan",
    "feb",
    "mrt",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "okt",
    "nov",
    "dec",
]
_DAYS = ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"]
_RELATIVE = (
    r"gisteren|vandaag|morgen|eergisteren|overmorgen|vorig jaar|vorige (week|maand|eeuw)|"
    r"volgend jaar|volgende (week|maand)|dit jaar|deze week|vanavond|vanochtend|vannacht|"
    r"gistermiddag|gisteravond|gisterochtend|zomer|winter|lente|herfst|kerst|pasen|"
    r"'s (ochtends|middags|avonds|nachts)|onlangs|binnenkort|volgende? (week|maand|jaar)|"
    r"(begin|eind|midden|halverwege) (de|het|deze|dit|vorige?)?\s*\w+|jaren \d0"
)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b'\d{2}\b")
_DAY = re.compile(
    r"\b\d{1,2}\s+(" + "|".join(_MONTHS) + r")\b|\b\d{1,2}[-/.]\d{1,2}([-/.]\d{2,4})?\b|"
    r"\b(" + "|".join(_DAYS) + r")\b"
)
_DATE = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b\d{1,2}[-/.]\d{1,2}([-/.]\d{2,4})?\b|\b\d{1,2}[:.]\d{2}\s*uur\b|"
    r"\b(" + "|".join(_MONTHS + _DAYS) + r")\b|\b(" + _RELATIVE + r")\b"
)
_NUMBER_WORDS = [
    "een",
    "twee",
    "drie",
    "vier",
    "vijf",
    "zes",
    "zeven",
    "acht",
    "negen",
    "tien",
    "elf",
    "twaalf",
    "dertien",
    "veertien",
    "vijftien",
    "zestien",
    "zeventien",
    "achttien",
    "negentien",
    "twintig",
    "dertig",
    "veertig",
    "vijftig",
    "zestig",
    "zeventig",
    "tachtig",
    "negentig",
    "honderd",
    "duizend",
    "miljoen",
    "miljard",
    "tientallen",
    "honderden",
    "duizenden",
    "dozijn",
    "half",
    "helft",
    "dubbel",
    "procent",
    "anderhalf",
    "eerste",
    "tweede",
    "derde",
    "vierde",
    "vijfde",
]
_NUMBER = re.compile(
    r"\d[\d.,]*|\b(" + "|".join(w for w in _NUMBER_WORDS if w != "een") + r")\w*\b"
)
_CURRENCY = r"(euro|eurocent|dollar|dollars|gulden|frank|franken|pond|roebel|roebels|yen|cent)"
# Case-sensitive: "10 miljoen euro" is an amount, "Euro 2000" a championship.
_MONEY = re.compile(
    r"[€$£]\s*\d|\d[\d.,]*\s*(miljoen|miljard|duizend|mln|mld)?\s*" + _CURRENCY + r"\b|"
    r"\b" + _CURRENCY + r"\s+\d|\bgratis\b|\bkosteloos\b|\bprijs van\b"
)
_REASON = re.compile(
    r"\b(omdat|doordat|want|vanwege|wegens|daardoor|daarom|zodat|dankzij|oorzaken|oorzaak|redenen|reden|"
    r"als gevolg van|op (eigen )?verzoek|uit (protest|angst|vrees|onvrede|woede|solidariteit|"
    r"respect|zorg)|boosdoener)\b"
)
# A purpose answers "Waarom ...?" ("geschikt om te zoeken naar sporen van leven"), but not a
# question for a cause ("Wat was de oorzaak ...?", "Waardoor ...?").
_PURPOSE = re.compile(
    r"\b(om\s+(\w+\s+){0,6}te\s+\w+|ter (ere|nagedachtenis|bescherming|voorbereiding)|"
    r"met als doel|bedoeld om)\b"
)
_ASKS_CAUSE = re.compile(r"\b(oorzaak|oorzaken|waardoor|hoe\s+kom\w*\s+het)\b")
# "om nog onbekende reden", "de oorzaak is nog niet bekend": the article says it does not know.
_NO_REASON = re.compile(
    r"\b(onbekende|onduidelijke) (reden|oorzaak)|\b(oorzaak|reden) (is|was) (nog )?"
    r"(niet bekend|onbekend|onduidelijk)|\bwordt (nog )?onderzocht\b"
)
_PLACE_PREP = re.compile(
    r"\b(in|naar|uit|te|bij|op|vanuit|nabij|richting|rond|langs|tegenover|buiten|binnen)\s+"
    r"(de\s+|het\s+)?[A-ZÀ-Ý][\w'-]+(\s+[A-ZÀ-Ý][\w'-]+)*"
)
_DATELINE = re.compile(r"^[A-Z][A-Z',. -]{2,}\s+-")


def must_have_type(question: str, atype: AnswerType) -> bool:
    """Refuse when no sentence has the kind of answer asked for? Not for "Waarom ...?": a
    reason is often given without "omdat"; but "Wat was de oorzaak ...?" wants a stated cause."""
    return atype is not AnswerType.REASON or bool(
        re.search(r"\b(oorzaak|oorzaken|reden|redenen|aanleiding)\b", fold(question))
    )


def has_type(sentence: str, atype: AnswerType, question: str = "") -> bool:
    """Does ``sentence`` contain something of kind ``atype`` (beyond what the question names)?"""
    text = sentence
    low = fold(text)
    if atype is AnswerType.DATE:
        if re.search(r"\bhoe laat\b", fold(question)):  # a time of day: "om 10.00 uur"
            return bool(_CLOCK.search(low))
        if re.search(r"\b(welk|in welk) (jaar|jaartal)\b", fold(question)):
            return bool(_YEAR.search(low))
        if re.search(r"\b(welke|op welke) (datum|dag)\b", fold(question)):
            return bool(_DAY.search(low))
        return bool(_DATE.search(low))
    if atype is AnswerType.NUMBER:
        # a count or measure (not a date, a match score or a ranking), of time when the
        # question counts time ("Hoeveel dagen ..."), otherwise not ("Hoeveel toeschouwers ...")
        counts = _NOT_A_COUNT.sub(" ", low)
        counted = re.search(r"\bhoeveel\s+(\w+)", fold(question))
        if counted and counted.group(1) not in _NUMBER_WORDS:
            timed = [
                m for m in _NUMBER.finditer(counts)
                if _TIME_UNIT.match(counts, m.end()) or _TIME_IN_WORD.search(m.group())
            ]  # fmt: skip
            if _TIME_UNIT.match(" " + counted.group(1)):
                return bool(timed)
            return len(list(_NUMBER.finditer(counts))) > len(timed)
        return bool(_NUMBER.search(counts))
    if atype is AnswerType.ORDINAL:
        return bool(_ORDINAL.search(low))
    if atype is AnswerType.MONEY:
        return bool(_MONEY.search(text))
    if atype is AnswerType.REASON:
        purpose = not _ASKS_CAUSE.search(fold(question)) and bool(_PURPOSE.search(low))
        return (bool(_REASON.search(low)) or purpose) and not _NO_REASON.search(low)
    if atype is AnswerType.PLACE:
        return bool(_PLACE_PREP.search(text) or _DATELINE.search(text)) or bool(
            _new_names(text, question)
        )
    if atype is AnswerType.AGE:
        return bool(_AGE.search(low))
    if atype is AnswerType.NAME and _NAMING.search(low):
        return True  # "De winnende taart heette ...", "pseudoniem van Georges Rémi"
    if atype is AnswerType.NAME and (focus := focus_noun(question)):
        return named_focus(text, focus, question, places=False)  # "zijn hengst Corland"
    if atype in (AnswerType.PERSON, AnswerType.NAME):
        # a name that is neither the place something happens in ("in Kopenhagen", "uit Tibet")
        # nor a dateline ("NIJMEGEN -")
        return bool(_new_names(_PLACE_PREP.sub(" ", _DATELINE.sub(" ", text)), question))
    return True


_ORDINALS = (
    "eerste|tweede|derde|vierde|vijfde|zesde|zevende|achtste|negende|tiende|elfde|twaalfde|"
    "dertiende|veertiende|vijftiende|zestiende|zeventiende|achttiende|negentiende|twintigste|"
    "laatste|winnaar|won|wint|gewonnen|zege|zegevierde"
)
_CLOCK = re.compile(r"\b\d{1,2}([.:]\d{2})?\s*uur\b|\b\d{1,2}[.:]\d{2}\b|\bmiddernacht\b")
_NAMING = re.compile(
    r"\b(heet|heette|heten|heetten|genaamd|geheten|naam|pseudoniem|bijnaam|gedoopt|luidt|"
    r"werktitel|codenaam|merknaam)\b"
)
_AGE = re.compile(
    r"\b\d{1,3}[- ]?jarige?\b|\b\d{1,3}\s+jaar(\s+oud)?\b|\(\d{1,3}\)|\bleeftijd\b|"
    r"\b\w+(tig|tien|twee|drie|vier|vijf|zes|zeven|acht|negen|honderd)jarige?\b|"
    r"\b(\w*tig|\w*tien|een|twee|drie|vier|vijf|zes|zeven|acht|negen|elf|twaalf)\s+jaar\s+oud\b|"
    r"\b(op|sinds|vanaf)\s+(zijn|haar|z'n)\s+(\d+ste|\d+de|\w+(tiende|tigste|de|ste))\b|"
    r"\b(geboren|overleden|stierf)\b"
)
_TIME_UNIT = re.compile(
    r"\s*(\w+\s+)?(seconde|seconden|minuut|minuten|kwartier|uur|uren|dag|dagen|week|weken|"
    r"maand|maanden|jaar|jaren|eeuw|eeuwen|keer|maal|tal)\b"
)
_TIME_IN_WORD = re.compile(r"(jaar|jarig|maand|week|weeks|dag|daags|uur|urig|maal|keer)")
_ORDINAL = re.compile(r"\b(" + _ORDINALS + r")\b|\b\d+(e|ste|de)\b")
_NOT_A_COUNT = re.compile(
    r"\b(1[0-9]{3}|20[0-9]{2})\b|\b\d{1,2}\s+(" + "|".join(MONTHS) + r")\b|"
    r"\b\d+\s*-\s*\d+\b|\b(" + _ORDINALS + r")\b"
)


def _new_names(sentence: str, question: str) -> list[str]:
    """Capitalised words (names) in ``sentence`` that the question does not already name."""
    asked = {fold(w)[:5] for w in words(question)}
    stop = stop_words()
    names = []
    for i, word in enumerate(words(sentence)):
        if not word[:1].isupper():
            continue
        folded = fold(word)
        if folded in stop or folded[:5] in asked:
            continue
        if i == 0 and (folded in _COMMON_STARTERS or is_dictionary_word(folded)):
            continue  # "Winnende werper werd ...": a capital because the sentence starts
        if (
            len(folded) > 5
            and folded.endswith(("se", "sche", "isch"))
            and is_dictionary_word(folded)
        ):
            continue  # an adjective of a place or people: "Europese", "Surinaamse"
        names.append(word)
    return names


def is_dictionary_word(folded: str) -> bool:
    """A Dutch dictionary word (simplemma knows it), as opposed to a name."""
    import simplemma

    return bool(simplemma.is_known(folded, lang="nl"))


_COMMON_STARTERS = {
    "tijdens", "volgens", "sinds", "toen", "nadat", "daarna", "bovendien", "ook", "maar", "dus",
    "in", "op", "bij", "na", "voor", "door", "met", "zo", "nu", "hier", "daar", "eind", "begin",
}  # fmt: skip


_FOCUS = re.compile(
    r"\b(?:welke?|hoe\s+(?:heet|heette|heten|heetten)\s+(?:de|het)|"
    r"(?:wie|wat)\s+(?:is|was|zijn|waren|wordt|werd)\s+(?:de|het))\s+(.*)"
)


def focus_noun(question: str) -> str | None:
    """The noun a "Welke X / Hoe heet de X / Wie is de X" question asks a name for (folded):
    "Hoe heet de bejaarde vrouw uit Weert?" -> "vrouw"."""
    match = _FOCUS.search(fold(question))
    if match is None:
        return None
    if re.match(r"welke?\b", match.group(0)):  # "Welke (twee) (Vietnamese) steden ..."
        after = [w for w in words(match.group(1)) if w not in _NUMBER_WORDS]
        if len(after) > 1 and after[0].endswith("e") and after[1] not in stop_words():
            return after[1]
        return after[0] if after else None
    run: list[str] = []
    for word in words(match.group(1)):
        if word in stop_words() or word in _NUMBER_WORDS:
            if run:
                break
            continue
        run.append(word)
    return run[-1] if run else None


# Words Dutch news writing uses for the same thing: a question's noun is found as any of them.
_SYNONYM_GROUPS = [
    "scheidsrechter arbiter leidsman",
    "toeschouwers publiek bezoekers supporters kijkers",
    "doelman keeper",
    "trainer coach bondscoach",
    "echtgenote echtgenoot vrouw man partner getrouwd",
    "neerslag regen",
    "slachtoffers gedupeerden",
    "doden omgekomen",
    "werknemers medewerkers personeel personeelsleden arbeidsplaatsen banen arbeidsplekken",
    "inwoners bewoners",
    "leerlingen scholieren",
    "woordvoerder woordvoerster zegsman",
    "premier minister-president",
    "bedrag som",
    "handtekeningen petitie ondertekend ondertekenaars",
]
_SYNONYMS = {w: group.split() for group in _SYNONYM_GROUPS for w in group.split()}


def synonyms(noun: str) -> list[str]:
    """A question's noun and the words news writing uses for the same thing."""
    return _SYNONYMS.get(noun, [noun])


def noun_stems(noun: str) -> list[str]:
    """Word starts to find a question's noun by, in any inflection or compound."""
    head = noun.rsplit("-", 1)[-1]  # "tv-programma" is found as "televisieprogramma"
    return [w[:-2] if len(w) > 6 else w for w in synonyms(head)]


def named_focus(sentence: str, focus: str, question: str, *, places: bool = True) -> bool:
    """Does ``sentence`` put a new name right after the asked noun: "kunstenaar Erwin de Vries",
    "zijn hengst Corland", "Het hoogste punt vormt de 651 meter hoge Baraque ..."? With
    ``places=False`` a place ("een blogger die vastzit in Hanoi") does not count."""
    tokens = words(sentence)
    text = sentence if places else _PLACE_PREP.sub(" ", _DATELINE.sub(" ", sentence))
    new = set(_new_names(text, question)) | _quoted_title(sentence, question)
    if places and focus in _PLACE_NOUNS:  # "Naar welk land ...?" - "... reist door naar Vietnam"
        after_prep = {w for m in _PLACE_PREP.finditer(sentence) for w in words(m.group(0))}
        if new & after_prep:
            return True
    stems = noun_stems(focus)  # "kunstenaar" / "kunstenaars"; "arbiter" / "scheidsrechter"
    return any(
        any(_has_noun(token, stem) for stem in stems)
        and any(t in new for t in tokens[i + 1 : i + 7])
        for i, token in enumerate(tokens)
    )


def _has_noun(token: str, stem: str) -> bool:
    """Is ``token`` the noun ``stem`` or a compound of it ("voetbalclub", "SP-Kamerlid")? A
    name that merely ends in it is not: "Rusland" is no "land"."""
    folded = fold(token)
    if not token[:1].isupper():
        return stem in folded
    return folded.rsplit("-", 1)[-1].startswith(stem)


_QUOTED = re.compile(r"(?:,,|[„“‘'\"«])([^„“”‘’'\"«»]{2,60}?)(?:''|[”’'\"»])")


def _quoted_title(sentence: str, question: str) -> set[str]:
    """The words of a short quoted title the question does not name: "haar roman 'Het
    zoutland'", "het lied ,,Arcade''" (a lower-case word of a title is a name too)."""
    asked = {fold(w) for w in words(question)}
    out: set[str] = set()
    for match in _QUOTED.finditer(sentence):
        title = words(match.group(1))
        if 0 < len(title) <= 6 and not {fold(w) for w in title} <= asked:
            out.update(title)
    return out


# Nouns a "Welk(e) X" question asks a place for.
_PLACE_NOUNS = {
    "land", "stad", "plaats", "dorp", "gemeente", "provincie", "regio", "streek", "hoofdstad",
    "eiland", "waddeneiland", "gebied", "wijk", "werelddeel", "continent", "staat", "deelstaat",
}  # fmt: skip


_HOLDER = re.compile(  # the words that end the name are lower case: "Van den Berg, die ..."
    r"(?i:\b(?:hoe\s+oud\s+(?:is|was|werd|wordt|zijn|waren)|(?:hoeveel|wat)\s+(?:verdient|"
    r"verdiende|verdienen|gaat|ging|zal|zou)))\s+(.*?)(?:[,?]|$|\b(?:die|dat|toen|als|bij|van|"
    r"in|op|per|voor|nu|eigenlijk)\b)"
)


def property_holder(question: str) -> str | None:
    """The person whose age or pay the question asks (by surname): "Hoe oud is rechter Van den
    Berg, die ...?" -> "Berg", "Hoeveel verdient Erik Veenstra als topman?" -> "Veenstra". An
    age of someone else in the article is no answer."""
    atype = expected_type(question)
    if atype is not AnswerType.AGE and not (
        atype is AnswerType.MONEY and re.search(r"\bverdien", fold(question))
    ):
        return None
    match = _HOLDER.search(question)
    if match is None:
        return None
    names = [w for w in words(match.group(1)) if w[:1].isupper() and "-" not in w]
    return names[-1] if names else None


def counted_focus(sentence: str, question: str) -> bool:
    """For "Hoeveel X ...?": does ``sentence`` put a number right before X ("12.450
    toeschouwers", "vier doelpunten")?"""
    match = re.search(r"\bhoeveel\s+([a-z][\w-]*)", fold(question))
    if match is None:
        return False
    stems = noun_stems(match.group(1))
    tokens = [fold(t) for t in words(sentence)]
    return any(
        _NUMBER.fullmatch(token) and any(stem in t for t in tokens[i + 1 : i + 4] for stem in stems)
        for i, token in enumerate(tokens)
    )
