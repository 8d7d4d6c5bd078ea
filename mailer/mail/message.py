"""Building RFC 5322 messages with the standard library's EmailMessage and Address.

Never by string concatenation: a name or subject with CR/LF in it must not be
able to add a header. Data-derived header values are flattened to one line first.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from mailer.db import utcnow
from mailer.mail.templates import Rendered


# refold_source="none": a header set with set_raw() (List-Unsubscribe) is written as it is.
# Refolded, its one long word would become RFC 2047 encoded words, which RFC 2369 headers may
# not hold: receivers would not find the <https://…> link. Headers set the ordinary way are
# header objects and fold as before.
SEND_POLICY = email_policy.SMTP.clone(refold_source="none")
SEND_POLICY_UTF8 = email_policy.SMTPUTF8.clone(refold_source="none")


def policy_for(address: str):
    """Raw UTF-8 headers (RFC 6532) only when the address itself needs them.

    A name with å, ä, ö goes as RFC 2047 encoded words, which every server takes;
    raw UTF-8 headers need a server that offers SMTPUTF8, which the transport asks
    for only for a non-ASCII address.
    """
    return SEND_POLICY if address.isascii() else SEND_POLICY_UTF8


def flatten(message) -> bytes:
    """The bytes that go on the wire (CRLF line ends), for every message mailer sends."""
    return message.as_bytes(policy=policy_for(message["To"].addresses[0].addr_spec))


def one_line(value: str | None) -> str:
    return " ".join((value or "").split())


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes


def recipient_address(name: str | None, email: str) -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=one_line(name), username=local, domain=domain)


def build_message(
    rendered: Rendered,
    sender: Address,
    to: Address,
    message_id: str,
    unsubscribe_url: str | None = None,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = one_line(rendered.subject)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    if unsubscribe_url:
        # RFC 8058 one-click unsubscribe, required by Gmail and Yahoo for bulk senders.
        # Raw, so that it goes out as <https://…> and never as encoded words (see SEND_POLICY).
        if not unsubscribe_url.isascii() or not unsubscribe_url.isprintable() or " " in unsubscribe_url:
            raise ValueError(f"unsubscribe URL {unsubscribe_url!r} is not a plain ASCII URL")
        message.set_raw("List-Unsubscribe", f"<{unsubscribe_url}>")
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text, subtype="plain", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", cte="quoted-printable")
    for attachment in attachments:
        if attachment.maintype == "text":  # declared charset, so clients show å, ä, ö right
            message.add_attachment(attachment.data.decode("utf-8"), subtype=attachment.subtype,
                                   filename=attachment.filename)
        else:
            message.add_attachment(attachment.data, maintype=attachment.maintype, subtype=attachment.subtype,
                                   filename=attachment.filename)
    return message


def stable_message_id(kind: str, row_id: int, domain: str) -> str:
    """The same outbox row always gets the same Message-ID, so a resend can be recognised."""
    return f"<{kind}.{row_id}@{domain}>"
