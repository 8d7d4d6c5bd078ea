"""Identifiers that appear in links and file names: slugs of organisations and meetings, link keys.

Why a module of its own: organisations, meetings and contacts all use them, and none of those
packages owns the others' identifiers.
"""

from __future__ import annotations

import re
import secrets

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")


def new_link_key() -> str:
    """Random, unguessable id carried (signed) in a person's links; replaced to revoke them."""
    return secrets.token_urlsafe(16)
