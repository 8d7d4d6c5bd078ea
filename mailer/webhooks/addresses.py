"""The SSRF guard: a webhook may only reach the public internet, unless `webhook_allow_private` is set.

Checked when staff register a URL and again before every delivery, because what a name
resolves to can change after registration (DNS rebinding). The delivery then connects to
the very address that was checked (delivery.py), never resolving the name a second time.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from mailer.errors import DomainError

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000


class WebhookError(DomainError, ValueError):
    """A URL or an endpoint staff cannot use; the code names why (error.webhook.<code>)."""

    prefix = "error.webhook."


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts and the one address it was checked for."""

    scheme: str
    host: str
    port: int
    path: str  # with the query
    address: str  # the IP address connected to


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; WebhookError for anything else."""
    text = (url or "").strip()
    if not text or len(text) > MAX_URL_LENGTH:
        raise WebhookError("url_invalid", url=text[:100])
    parts = urlsplit(text)
    if parts.scheme.lower() not in SCHEMES:
        raise WebhookError("url_scheme", url=text[:100])
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise WebhookError("url_invalid", url=text[:100]) from None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise WebhookError("url_invalid", url=text[:100])
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme.lower(), parts.hostname, port, path


def is_public(address: str) -> bool:
    """False for loopback, private, link-local, shared (CGNAT), multicast, reserved and unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_unspecified
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (an IP literal resolves to itself)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise WebhookError("url_unresolvable", host=host) from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def check_url(url: str, allow_private: bool) -> Target:
    """The URL's target, refused (WebhookError) when any address of its host is not public.

    All addresses must be public, not just one: the client could connect to any of them.
    """
    scheme, host, port, path = parse_url(url)
    addresses = resolve(host, port)
    if not allow_private:
        blocked = [address for address in addresses if not is_public(address)]
        if blocked:
            raise WebhookError("url_private", host=host, address=blocked[0])
    return Target(scheme, host, port, path, addresses[0])
