"""The catalogs: every key the code uses has a Swedish and an English text, and both fill in."""

from __future__ import annotations

import string
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from mailer import translations
from mailer.translations import LANGUAGES, po_path, translate

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"t": None, "say": None, "translate": None, "N_": None, "_": None, "gettext": None}
PREFIXES = ("", "public.", "report.", "quality.", "cli.status.")
METHODS = [("mailer/**.py", "python"), ("mailer/**/templates/**.html", "jinja2")]


def read(language: str):
    with po_path(language).open("rb") as po_file:
        return read_po(po_file, locale=language)


def extracted_keys() -> set[str]:
    """What `pybabel extract` (babel.cfg) finds: the literal keys the code and the templates look up."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        key = message[0] if isinstance(message, tuple) else message
        if key and " " not in key and "{" not in key:
            found.add(key)
    return found


def test_every_key_the_code_uses_has_a_swedish_and_an_english_text():
    used = extracted_keys()
    assert len(used) > 250
    for language in LANGUAGES:
        catalog = read(language)
        # Staff words use plain keys; the public pages' Words add "public.", the board report "report.".
        missing = sorted(
            key
            for key in used
            if not any(prefix + key in catalog and catalog[prefix + key].string for prefix in PREFIXES)
        )
        assert not missing, f"{language}: no text for {missing}"


def test_swedish_and_english_catalogs_have_the_same_keys_all_translated():
    swedish, english = read("sv"), read("en")
    sv_keys = {m.id for m in swedish if m.id}
    en_keys = {m.id for m in english if m.id}
    assert sv_keys == en_keys, f"only in sv: {sorted(sv_keys - en_keys)}; only in en: {sorted(en_keys - sv_keys)}"
    for catalog in (swedish, english):
        empty = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
        assert not empty, f"{catalog.locale}: untranslated {empty}"


def test_both_languages_use_the_same_placeholders_and_fill_in():
    swedish, english = read("sv"), read("en")
    fields = string.Formatter()
    for message in swedish:
        if not message.id:
            continue
        names = {name for _, name, _, _ in fields.parse(message.string) if name}
        other = {name for _, name, _, _ in fields.parse(english[message.id].string) if name}
        assert names == other, f"{message.id}: sv {names} vs en {other}"
        values = {name.split("!")[0].split(".")[0]: 1 for name in names}
        for language in LANGUAGES:
            assert translate(message.id, language, **values)


def test_a_missing_key_fails_loudly():
    try:
        translate("no_such_key_anywhere", "sv")
    except KeyError as exc:
        assert "no_such_key_anywhere" in str(exc)
    else:
        raise AssertionError("a missing key must raise")


def test_compiled_catalogs_match_their_sources(tmp_path):
    translations.ensure_compiled()
    for language in LANGUAGES:
        assert translations.mo_path(language).read_bytes() == translations.compile_catalog(language)
