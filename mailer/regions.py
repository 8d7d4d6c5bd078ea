"""The fixed list of regions: Sweden's 21 regions (län) and "Hela landet" for national bodies.

Member organisations' lists spell a region in many ways ("Sörmland", "Södermanland",
"Region Sörmland", "Landstinget Sörmland", "Södermanlands län"; "VGR", "Västra
Götalandsregionen"; "Region JH", "Jämtland/Härjedalen"). A round "to Sörmland" must reach
all of them, so contacts, organisations and meetings store one canonical name, the
short name the regions use of themselves. Pure data and one normalising function: no
database, no Flask.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

NATIONAL = "Hela landet"

# Canonical name -> the other names people write for it (official län name, the region's
# own name, older and short forms). Prefixes such as "Region"/"Landstinget", the suffix
# "län" and a genitive "s" are removed before looking up, so they need not be listed.
REGIONS: dict[str, tuple[str, ...]] = {
    "Blekinge": (),
    "Dalarna": ("Kopparberg",),
    "Gotland": (),
    "Gävleborg": (),
    "Halland": (),
    "Jämtland Härjedalen": ("Jämtland", "Härjedalen", "JH", "Jämtland-Härjedalen"),
    "Jönköping": (),
    "Kalmar": (),
    "Kronoberg": (),
    "Norrbotten": (),
    "Skåne": (),
    "Stockholm": ("SLL", "Storstockholm"),
    "Sörmland": ("Södermanland",),
    "Uppsala": (),
    "Värmland": (),
    "Västerbotten": (),
    "Västernorrland": (),
    "Västmanland": (),
    "Västra Götaland": ("VGR", "VG", "Västra Götalands"),
    "Örebro": (),
    "Östergötland": (),
    NATIONAL: (
        "Hela Sverige",
        "Sverige",
        "Nationell",
        "Nationellt",
        "Riks",
        "Riksnivå",
        "Hela riket",
        "National",
        "Nationwide",
        "Sweden",
    ),
}

# Removed from the front and the back of a folded value, longest first, before the lookup.
_PREFIXES = ("landstinget i", "landstinget", "lansstyrelsen i", "lansstyrelsen", "regionen", "region", "lan")
_SUFFIXES = ("lans landsting", "landsting", "regionen", "region", "lan")


def fold(text: str) -> str:
    """Lower case without accents, punctuation as single spaces: 'Region/Län ' -> 'region lan'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", plain).split())


def _strip(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix + " ") and len(key) > len(prefix) + 1:
            key = key[len(prefix) + 1 :]
            break
    for suffix in _SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix) + 1:
            key = key[: -len(suffix)].rstrip()
            break
    return key


_LOOKUP: dict[str, str] = {}
for _name, _others in REGIONS.items():
    for _spelling in (_name, *_others):
        _LOOKUP[fold(_spelling)] = _name
        _LOOKUP[fold(_spelling).replace(" ", "")] = _name  # "Västragötaland", "Jämtlandhärjedalen"


def canonical_region(value: str | None) -> str | None:
    """The canonical region for any spelling, or None when it is not one (or empty)."""
    if not value or not value.strip():
        return None
    key = fold(value)
    for candidate in (key, _strip(key)):
        for attempt in (candidate, candidate.replace(" ", "")):
            if attempt in _LOOKUP:
                return _LOOKUP[attempt]
            if attempt.endswith("s") and attempt[:-1] in _LOOKUP:  # genitive: "Dalarnas", "Gävleborgs län"
                return _LOOKUP[attempt[:-1]]
    return None


def suggest_region(value: str | None) -> str | None:
    """The closest region to a spelling that is not one ("Sörmlnd" -> "Sörmland"), or None if nothing is close."""
    if not value or not value.strip():
        return None
    exact = canonical_region(value)
    if exact:
        return exact
    key = _strip(fold(value))
    best, score = None, 0.0
    for spelling, name in _LOOKUP.items():
        ratio = difflib.SequenceMatcher(None, key, spelling).ratio()
        if ratio > score:
            best, score = name, ratio
    return best if score >= 0.6 else None


def region_names() -> list[str]:
    """The canonical names: the 21 regions in Swedish alphabetical order, then "Hela landet"."""
    return [name for name in REGIONS if name != NATIONAL] + [NATIONAL]
