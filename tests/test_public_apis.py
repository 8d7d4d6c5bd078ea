"""mailer uses only the public names of other packages.

A name with a leading underscore in someone else's module (quoprimime._QUOPRI_BODY_ENCODE_MAP,
icalendar's _foldline) is not an API: any minor upgrade may change or remove it, and sending
would break silently. This reads every module of the package and fails on
`name._private` (the regex `\\b[a-z_]+\\._[a-zA-Z]`, widened to capitalised and dotted names such
as `Generator._make_boundary` and `email.quoprimime._x`) where `name` is a module, class or function
the file imported from another package, on `from package import _private`, and on
`getattr(module, "_private")`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mailer

PACKAGE = Path(mailer.__file__).resolve().parent
PRIVATE_ATTRIBUTE = re.compile(r"\b([A-Za-z_][\w.]*)\._[a-zA-Z]")


def _ours(module: str | None, level: int) -> bool:
    return level > 0 or module == "mailer" or (module or "").startswith("mailer.")


def imported_names(tree: ast.AST) -> set[str]:
    """The names a module binds by importing from other packages (`import a.b` binds `a`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names if not _ours(alias.name, 0)}
        elif isinstance(node, ast.ImportFrom) and not _ours(node.module, node.level):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def private_uses(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    modules = imported_names(tree)
    found = []
    for number, line in enumerate(source.splitlines(), 1):
        code = line.split("#", 1)[0]
        found += [
            f"{filename}:{number}: {line.strip()}"
            for match in PRIVATE_ATTRIBUTE.finditer(code)
            if match.group(1).split(".")[0] in modules
        ]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and not _ours(node.module, node.level):
            found += [
                f"{filename}:{node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in modules
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
        ):
            found.append(f"{filename}:{node.lineno}: {node.func.id}({node.args[0].id}, {node.args[1].value!r})")
    return found


def test_the_package_uses_no_private_name_of_another_package():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += private_uses(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert found == [], "private names of other packages:\n" + "\n".join(found)


def test_the_check_finds_what_the_old_send_path_used():
    """The check itself: each of these was in mailer once, and each is found."""
    source = """
from email import contentmanager, quoprimime
from email.generator import Generator
from icalendar import parser as ical_parser
from sqlalchemy.sql import _typing
import email.quoprimime

MAP = quoprimime._QUOPRI_BODY_ENCODE_MAP
cte, body = contentmanager._encode_text(text, "utf-8", None, policy)
boundary = Generator._make_boundary()
fold = getattr(ical_parser, "_foldline", None)
body = email.quoprimime._QUOPRI_BODY_ENCODE_MAP
"""
    found = private_uses(source, "example.py")
    assert sorted(int(entry.split(":")[1]) for entry in found) == [5, 8, 9, 10, 11, 12], found
    ours = "from mailer.mail import templates\nfrom . import db\nx = templates._inliner\ny = db._PER_ROW\nz = self._x\n"
    assert private_uses(ours, "ours.py") == []
