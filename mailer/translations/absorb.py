"""Move texts written as Python dicts (the old words_sv.py / words_en.py style) into the catalogs.

    python -m mailer.translations.absorb path/to/words_sv.py path/to/words_en.py ...

Each file may define dicts whose names start with SV or EN (SV, SV_WORK, EN, ...);
their keys are added to the Swedish or English catalog. A key already in a
catalog keeps its text unless --replace is given. This is how a branch that
still added words to the old tables is merged: absorb its files, delete them.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from babel.messages.pofile import read_po, write_po

from mailer.translations import DOMAIN, po_path


def dicts_in(path: Path) -> dict[str, dict[str, str]]:
    """{"sv": {...}, "en": {...}} from the literal dicts of a Python file (never executed)."""
    found: dict[str, dict[str, str]] = {"sv": {}, "en": {}}
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if not isinstance(target, ast.Name) or not isinstance(value, ast.Dict):
            continue
        language = "sv" if target.id.upper().startswith("SV") else "en" if target.id.upper().startswith("EN") else None
        if language:
            found[language].update(ast.literal_eval(value))
    return found


def absorb(texts: dict[str, dict[str, str]], replace: bool = False) -> dict[str, int]:
    added = {}
    for language, table in texts.items():
        if not table:
            continue
        path = po_path(language)
        with path.open("rb") as po_file:
            catalog = read_po(po_file, locale=language, domain=DOMAIN)
        catalog.fuzzy = False  # the header: these catalogs are reviewed, not machine drafts
        count = 0
        for key, text in table.items():
            if key in catalog:
                if not replace:
                    continue
                catalog[key].string = text  # Catalog.add would keep the old text of a known key
            else:
                catalog.add(key, text)
            count += 1
        with path.open("wb") as po_file:
            write_po(po_file, catalog, width=0, omit_header=False)
        added[language] = count
    return added


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--replace", action="store_true", help="overwrite texts already in the catalogs")
    args = parser.parse_args(argv)
    merged: dict[str, dict[str, str]] = {"sv": {}, "en": {}}
    for path in args.files:
        for language, table in dicts_in(path).items():
            merged[language].update(table)
    for language, count in absorb(merged, args.replace).items():
        print(f"{po_path(language)}: {count} texts added")


if __name__ == "__main__":
    main()
