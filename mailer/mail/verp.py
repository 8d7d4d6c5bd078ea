"""The envelope sender of each message: `bounces+<tag>@domain`, the tag signed (VERP).

A bounce goes to the envelope sender, so the address it arrives at says which outbox row it
is about, without trusting anything the reporting server wrote. The tag is the row id and an
HMAC of it under the secret key (old keys still verify, like links): a forged or altered tag
is worth nothing. Lower-case hex only, because some servers change the case of local parts,
and short: `bounces+1234567-<16 hex>` leaves the local part far below 64 characters.

A staff test mail has no outbox row: its tag names the campaign instead, `bounces+test<id>-<16 hex>`,
signed apart (a test tag never passes for a row's, nor the other way round). So a test mail leaves
with the same kind of envelope sender as the real round (a relay that refuses it shows in the
test), and its bounce is known for a test mail's, held against nobody.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

SIGNATURE_CHARS = 16  # 64 bits of HMAC-SHA256: guessing one takes ~2^63 tries
_TAG = re.compile(rf"(\d{{1,12}})-([0-9a-f]{{{SIGNATURE_CHARS}}})")
TEST_PREFIX = "test"


@functools.lru_cache(maxsize=8)
def _key(secret_key: str) -> bytes:
    """A key of its own for tags, derived from the secret key (links use theirs, with other salts)."""
    return hashlib.sha256(b"mailer.verp\0" + secret_key.encode("utf-8")).digest()


def _signature(secret_key: str, number: int, prefix: str = "") -> str:
    signed = f"{prefix}{number}".encode("ascii")
    return hmac.new(_key(secret_key), signed, hashlib.sha256).hexdigest()[:SIGNATURE_CHARS]


def tag(secret_key: str, message_id: int, prefix: str = "") -> str:
    """The tag for an outbox row, or with TEST_PREFIX for a campaign's test mail."""
    return f"{prefix}{message_id}-{_signature(secret_key, message_id, prefix)}"


def envelope_sender(
    bounce_address: str | None, fallback: str, secret_key: str, message_id: int, prefix: str = ""
) -> str:
    """`bounces+<tag>@domain` when a bounce address is set, else the From address as it is."""
    if not bounce_address:
        return fallback
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{tag(secret_key, message_id, prefix)}@{domain}"


def envelope_sender_for_test_mail(bounce_address: str | None, fallback: str, secret_key: str, campaign_id: int) -> str:
    """The envelope sender of a staff test mail of a campaign (its tag names the campaign)."""
    return envelope_sender(bounce_address, fallback, secret_key, campaign_id, TEST_PREFIX)


def tagged_message_ids(text: str, bounce_address: str, keys: tuple[str, ...], prefix: str = "") -> list[int]:
    """The outbox row ids (or with TEST_PREFIX the test mails' campaign ids) of every correctly
    signed tag on our bounce address found in `text`."""
    local, _, domain = bounce_address.rpartition("@")
    pattern = re.compile(rf"(?<![\w.+-]){re.escape(local)}\+([0-9a-z-]+)@{re.escape(domain)}\b", re.IGNORECASE)
    found: list[int] = []
    for match in pattern.finditer(text):
        candidate = match.group(1).lower()
        if prefix and not candidate.startswith(prefix):
            continue
        parsed = _TAG.fullmatch(candidate[len(prefix) :])
        if parsed is None:
            continue
        number, signature = int(parsed.group(1)), parsed.group(2)
        if any(hmac.compare_digest(_signature(key, number, prefix), signature) for key in keys):
            if number not in found:
                found.append(number)
    return found
