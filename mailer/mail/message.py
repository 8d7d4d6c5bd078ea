"""The bytes that go on the wire: one function builds every message mailer sends.

Why not EmailMessage + as_bytes() for each message: the email object model parses every
header into objects and refolds it, and QP-encodes bodies in pure Python, about 2 ms a
message. Here the structure is written directly and each piece is made by a public API
of the standard library: headers whose value comes from data (From, Subject, a display
name with å, ä, ö) are encoded by the email package (`email.policy` or `email.header`),
bodies by `quopri` and `base64` (C code). What is the same for a whole round (the From
and Subject headers, the parts' own headers) is encoded once and reused (lru_cache).

What every message is, whatever the server offers:
- 7-bit: every part quoted-printable (text, HTML) or base64 (attachments), so a server
  without 8BITMIME gets what it can carry;
- headers RFC 2047-encoded (ASCII only), unless the recipient's address itself has a
  non-ASCII local part: such a message can only travel with SMTPUTF8 (RFC 6531/6532),
  so its headers are raw UTF-8, and the transport refuses it where the server lacks SMTPUTF8;
- domains as IDNA2008 A-labels (`straße.se` -> `xn--strae-oqa.se`, never `strasse.se`);
- no header from data can add a header: every data value is made one line first.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import quopri
import secrets
from dataclasses import dataclass
from email import message_from_bytes
from email import policy as email_policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, formataddr

from email_validator import EmailNotValidError, validate_email

from mailer.db import utcnow
from mailer.mail.templates import Rendered

ASCII_POLICY = email_policy.SMTP  # RFC 2047 encoded words for anything not ASCII
UTF8_POLICY = email_policy.SMTPUTF8  # raw UTF-8 headers, for SMTPUTF8 transactions only
CRLF = b"\r\n"


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes


def one_line(value: str | None) -> str:
    return " ".join((value or "").split())


# -- addresses and ids ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)
def ascii_domain(domain: str) -> str:
    """The domain as IDNA2008 A-labels, as email-validator makes it (raises ValueError)."""
    if domain.isascii():
        return domain.lower()
    try:
        return validate_email(f"postmaster@{domain}", check_deliverability=False).ascii_domain
    except EmailNotValidError as exc:
        raise ValueError(f"the domain {domain!r} cannot be written in ASCII: {exc}") from None


def wire_address(email: str) -> str:
    """The address as it goes into MAIL FROM, RCPT TO and the headers: the domain as A-labels.

    The local part stays as it is: a non-ASCII one has no ASCII form, it needs SMTPUTF8.
    """
    local, _, domain = email.rpartition("@")
    return f"{local}@{ascii_domain(domain)}"


def needs_smtputf8(*emails: str) -> bool:
    """True when an address's local part is not ASCII: only SMTPUTF8 carries it (RFC 6531)."""
    return any(not email.rpartition("@")[0].isascii() for email in emails)


def new_message_id(domain: str) -> str:
    """Globally unique: 128 random bits at the From domain (RFC 5322 3.6.4).

    Why random, not derived from a row id: a second instance, or a database restored from a
    backup, would repeat ids, and receiving servers drop a message whose id they have seen.
    The outbox stores each row's id, so a retry of the same row reuses it.
    """
    return f"<{secrets.token_hex(16)}@{ascii_domain(domain)}>"


# -- headers -------------------------------------------------------------------------------------
def _registry_header(name: str, value: str | Address, utf8: bool) -> bytes:
    """A header as the email package's header registry encodes and folds it."""
    policy = UTF8_POLICY if utf8 else ASCII_POLICY
    return policy.fold_binary(name, policy.header_factory(name, value))


@functools.lru_cache(maxsize=256)
def _subject_header(subject: str, utf8: bool) -> bytes:
    return _registry_header("Subject", subject, utf8)  # once per round (and kind of recipient)


def _address_header(name: str, display_name: str, email: str, utf8: bool) -> bytes:
    """`To: Åsa Öberg <asa@xn--strae-oqa.se>`, its name as RFC 2047 encoded words unless `utf8`.

    Made for each recipient, so with email.header and email.utils (tens of microseconds) rather
    than the header registry (over a hundred): the same encoding, for a display name and address.
    """
    local, _, domain = email.rpartition("@")
    if utf8:
        return _registry_header(name, Address(display_name, local, ascii_domain(domain)), True)
    address = f"{local}@{ascii_domain(domain)}"
    if not display_name:
        return f"{name}: {address}\r\n".encode("ascii")
    if display_name.isascii():
        return f"{name}: {formataddr((display_name, address))}\r\n".encode("ascii")
    words = Header(display_name, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {words} <{address}>\r\n".encode("ascii")


@functools.lru_cache(maxsize=64)
def _sender_header(display_name: str, email: str, utf8: bool) -> bytes:
    return _address_header("From", one_line(display_name), email, utf8)  # once per round


# -- parts ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def _part_head(maintype: str, subtype: str, cte: str, filename: str | None = None) -> bytes:
    """A part's own headers, written by the email package once per kind of part."""
    part = MIMEPart(policy=ASCII_POLICY)
    part["Content-Type"] = f"{maintype}/{subtype}"
    if maintype == "text":  # declared charset, so clients show å, ä, ö right
        part.set_param("charset", "utf-8")
    if filename:
        part.add_header("Content-Disposition", "attachment", filename=filename)
    part["Content-Transfer-Encoding"] = cte
    return part.as_bytes()


def _crlf_lines(text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return "".join(line + "\r\n" for line in lines).encode("utf-8")


def _text_part(subtype: str, text: str) -> bytes:
    return _part_head("text", subtype, "quoted-printable") + quopri.encodestring(_crlf_lines(text))


def _attachment_part(attachment: Attachment) -> bytes:
    body = base64.encodebytes(attachment.data).replace(b"\n", CRLF)
    return _part_head(attachment.maintype, attachment.subtype, "base64", attachment.filename) + body


def _multipart(subtype: str, parts: list[bytes]) -> tuple[bytes, bytes]:
    """The Content-Type header and the body of a multipart holding `parts`.

    The boundary starts with "=_": quoted-printable writes every "=" as "=3D" and base64
    has no "_", so no encoded part can contain it.
    """
    boundary = f"=_{secrets.token_hex(12)}".encode("ascii")
    head = b"Content-Type: multipart/" + subtype.encode("ascii") + b'; boundary="' + boundary + b'"\r\n'
    body = b"".join(b"--" + boundary + CRLF + part + CRLF for part in parts) + b"--" + boundary + b"--\r\n"
    return head, body


# -- the message ---------------------------------------------------------------------------------
def build_message(
    rendered: Rendered,
    sender: Address,
    to_name: str | None,
    to_email: str,
    message_id: str,
    unsubscribe_url: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    now: dt.datetime | None = None,
) -> bytes:
    """The message's bytes, CRLF line ends, ready for SMTP DATA or an .eml file."""
    utf8 = needs_smtputf8(to_email, sender.addr_spec)
    head = [
        _sender_header(sender.display_name, sender.addr_spec, utf8),
        _address_header("To", one_line(to_name), to_email, utf8),
        _subject_header(one_line(rendered.subject), utf8),
        f"Date: {format_datetime(now or utcnow())}\r\n".encode("ascii"),
        f"Message-ID: {message_id}\r\n".encode("ascii"),
    ]
    if unsubscribe_url:
        # RFC 8058 one-click unsubscribe, required by Gmail and Yahoo for bulk senders; the link
        # itself on the wire, never as encoded words (RFC 2369 headers may not hold them).
        if not unsubscribe_url.isascii() or not unsubscribe_url.isprintable() or " " in unsubscribe_url:
            raise ValueError(f"unsubscribe URL {unsubscribe_url!r} is not a plain ASCII URL")
        head.append(f"List-Unsubscribe: <{unsubscribe_url}>\r\n".encode("ascii"))
        head.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    head.append(b"MIME-Version: 1.0\r\n")
    content_type, body = _multipart(
        "alternative", [_text_part("plain", rendered.text), _text_part("html", rendered.html)]
    )
    if attachments:
        inner = content_type + CRLF + body
        content_type, body = _multipart("mixed", [inner, *(_attachment_part(attachment) for attachment in attachments)])
    return b"".join(head) + content_type + CRLF + body


def parsed(data: bytes) -> EmailMessage:
    """The message as the email package reads it (previews, tests): what a mail program shows."""
    return message_from_bytes(data, policy=email_policy.default)
