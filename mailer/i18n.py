"""Dates and times the way Swedish (and English) readers expect them.

"tisdag 13 september 2027 kl. 18.00–20.00" comes from Babel's CLDR data, not
from hand-made month and day names.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time

PATTERNS = {
    "sv": {"date": "EEEE d MMMM y", "time": "HH.mm", "at": "kl."},
    "en": {"date": "EEEE d MMMM y", "time": "HH:mm", "at": "at"},
}


def _lang(language: str | None) -> str:
    return language if language in PATTERNS else "sv"


def format_day(value: dt.datetime | dt.date, tz: ZoneInfo, language: str | None = "sv") -> str:
    lang = _lang(language)
    if isinstance(value, dt.datetime):
        return format_datetime(value, PATTERNS[lang]["date"], tzinfo=tz, locale=lang)
    return format_date(value, PATTERNS[lang]["date"], locale=lang)


def format_clock(value: dt.datetime, tz: ZoneInfo, language: str | None = "sv") -> str:
    lang = _lang(language)
    return format_time(value, PATTERNS[lang]["time"], tzinfo=tz, locale=lang)


def format_when(starts: dt.datetime, ends: dt.datetime | None, tz: ZoneInfo, language: str | None = "sv") -> str:
    """'tisdag 13 september 2027 kl. 18.00–20.00' (English: 'Tuesday 13 September 2027 at 18:00–20:00').

    An end on another day names that day too: 'fredag 1 oktober 2027 kl. 22.00 – lördag 2 oktober
    2027 kl. 01.00', never a bare '22.00–01.00'.
    """
    lang = _lang(language)
    text = f"{format_day(starts, tz, lang)} {PATTERNS[lang]['at']} {format_clock(starts, tz, lang)}"
    if ends is not None and ends.astimezone(tz).date() != starts.astimezone(tz).date():
        text += f" – {format_day(ends, tz, lang)} {PATTERNS[lang]['at']} {format_clock(ends, tz, lang)}"
    elif ends is not None:
        text += f"–{format_clock(ends, tz, lang)}"
    return text


def format_short_date(value: dt.date, language: str | None = "sv") -> str:
    """'13 sep.' / '13 Sept' for chart labels."""
    return format_date(value, "d MMM", locale=_lang(language))
