"""The envelope sender of each message: `bounces+<tag>@domain`, the tag signed (VERP).

A bounce goes to the envelope sender, so the address it arrives at says which outbox row it
is about, without trusting anything the reporting server wrote. The tag is the row id and an
HMAC of it under the secret key (old keys still verify, like links): a forged or altered tag
is worth nothing. Lower-case hex only, because some servers change the case of local parts,
and short: `bounces+1234567-<16 hex>` leaves the local part far below 64 characters.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

SIGNATURE_CHARS = 16  # 64 bits of HMAC-SHA256: guessing one takes ~2^63 tries
_TAG = re.compile(rf"(\d{{1,12}})-([0-9a-f]{{{SIGNATURE_CHARS}}})")


@functools.lru_cache(maxsize=8)
def _key(secret_key: str) -> bytes:
    """A key of its own for tags, derived from the secret key (links use theirs, with other salts)."""
    return hashlib.sha256(b"mailer.verp\0" + secret_key.encode("utf-8")).digest()


def _signature(secret_key: str, message_id: int) -> str:
    return hmac.new(_key(secret_key), str(message_id).encode("ascii"), hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]


def tag(secret_key: str, message_id: int) -> str:
    return f"{message_id}-{_signature(secret_key, message_id)}"


def envelope_sender(bounce_address: str | None, fallback: str, secret_key: str, message_id: int) -> str:
    """`bounces+<tag>@domain` when a bounce address is set, else the From address as it is."""
    if not bounce_address:
        return fallback
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{tag(secret_key, message_id)}@{domain}"


def tagged_message_ids(text: str, bounce_address: str, keys: tuple[str, ...]) -> list[int]:
    """The outbox row ids of every correctly signed tag on our bounce address found in `text`."""
    local, _, domain = bounce_address.rpartition("@")
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(local)}\+([0-9a-z-]+)@{re.escape(domain)}\b", re.IGNORECASE)
    found: list[int] = []
    for match in pattern.finditer(text):
        parsed = _TAG.fullmatch(match.group(1).lower())
        if parsed is None:
            continue
        message_id, signature = int(parsed.group(1)), parsed.group(2)
        if any(hmac.compare_digest(_signature(key, message_id), signature) for key in keys):
            if message_id not in found:
                found.append(message_id)
    return found
