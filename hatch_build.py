"""Hatchling build hook: compile the gettext catalogs (.po -> .mo) into every wheel and editable install.

The .mo files are build output (git-ignored); mailer.translations also compiles
them on first use when they are missing, so a bare checkout works too.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CompileCatalogs(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        for po in sorted(Path(self.root, "mailer", "translations").glob("*/LC_MESSAGES/*.po")):
            with po.open("rb") as po_file:
                catalog = read_po(po_file, locale=po.parent.parent.name)
            buffer = io.BytesIO()
            write_mo(buffer, catalog, use_fuzzy=False)
            po.with_suffix(".mo").write_bytes(buffer.getvalue())
