"""Small, careful edits to instance/config.toml that `mailer init` makes for the user.

Only a line the template wrote as a comment is replaced; a file the user has
edited otherwise is left alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

COMMENTED_STAFF_EMAILS = re.compile(r"(?m)^#\s*staff_emails\s*=.*$")
SET_STAFF_EMAILS = re.compile(r"(?m)^\s*staff_emails\s*=")


def fill_in_staff_emails(config: Path, email: str) -> bool:
    """Replace the template's commented-out `staff_emails` with this address; True when written."""
    try:
        text = config.read_text(encoding="utf-8")
    except OSError:
        return False
    if SET_STAFF_EMAILS.search(text) or not COMMENTED_STAFF_EMAILS.search(text):
        return False
    line = f"staff_emails = [{json.dumps(email)}]  # the weekly digest's recipients (set by `mailer init`)"
    config.write_text(COMMENTED_STAFF_EMAILS.sub(lambda _: line, text, count=1), encoding="utf-8")
    return True
