"""Bot protection without third parties: a honeypot field, a signed time stamp, and short network prefixes.

The form carries a token signed with the secret key: when it was shown and, when the page
was shown in a frame, the embedding site's origin. A form sent back sooner than
`signup_min_seconds` was filled in by a program; one older than a day is shown again.
(The rate limit per client address is the web layer's: mailer.web.ratelimit.)
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

HONEYPOT = "website"  # hidden from people (and from screen readers): only a program fills it in
FORM_MAX_AGE = 24 * 3600


class Refused(Exception):
    """The form is not accepted; `reason` ("too_fast", "expired", "trap") is a stable code pages translate."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Shown:
    """What the signed form token says: when the form was shown and in whose frame."""

    at: float
    embedded_from: str | None


def _serializer(secret_key: str, old_secret_keys: tuple[str, ...] = ()) -> URLSafeSerializer:
    return URLSafeSerializer([*old_secret_keys, secret_key], salt="mailer.signup-form")


def form_token(secret_key: str, embedded_from: str | None, now: float | None = None) -> str:
    return str(_serializer(secret_key).dumps({"at": time.time() if now is None else now, "from": embedded_from}))


def check_form(
    secret_key: str,
    old_secret_keys: tuple[str, ...],
    token: str,
    honeypot: str,
    min_seconds: int,
    now: float | None = None,
) -> Shown:
    """The form's token checked; raises Refused. The honeypot is checked first: a bot learns nothing more."""
    if honeypot.strip():
        raise Refused("trap")
    try:
        payload = _serializer(secret_key, old_secret_keys).loads(token)
    except (BadData, UnicodeError, ValueError):
        raise Refused("expired") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("at"), (int, float)):
        raise Refused("expired")
    origin = payload.get("from")
    age = (time.time() if now is None else now) - payload["at"]
    if age > FORM_MAX_AGE:
        raise Refused("expired")
    if age < min_seconds:
        raise Refused("too_fast")
    return Shown(float(payload["at"]), origin if isinstance(origin, str) else None)


def network_of(address: str | None) -> str | None:
    """The client address shortened to its network (IPv4 /24, IPv6 /48): enough to tell where a
    sign-up came from in broad terms, not which device (docs/signup.md)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
