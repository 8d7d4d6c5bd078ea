"""Where messages go: a real SMTP relay, or files in instance/outbox/ when none is configured.

The sender only knows this small interface and the four outcomes below, so a
throttling reply (4xx) can never be mistaken for a bounce (5xx on RCPT).
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


class TransportError(Exception):
    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


class TemporaryFailure(TransportError):
    """4xx, timeout, dropped connection: try again later."""


class ConnectionFailure(TemporaryFailure):
    """Could not reach or log in to the server: nothing was attempted for any message."""


class RecipientRejected(TransportError):
    """5xx for the recipient: a hard bounce; the address gets suppressed."""


class MessageRejected(TransportError):
    """5xx for the sender or the content: the message failed, the address is not to blame."""


class Transport(Protocol):
    rate_limited: bool  # a relay has sending limits; a folder does not

    def connect(self) -> None: ...
    def send(self, envelope_from: str, envelope_to: str, data: bytes, message_id: str) -> None: ...
    def close(self) -> None: ...


_PLAIN_ADDRESS = re.compile(r"[^\s<>\"()\\,;:@]+@[^\s<>\"()\\,;:@]+")


def _plain(address: str) -> bool:
    """An address that goes into MAIL/RCPT as <address> with nothing to quote (what smtplib's
    quoteaddr would make of it); anything else takes smtplib's own path."""
    return address.isascii() and _PLAIN_ADDRESS.fullmatch(address) is not None


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


class SMTPTransport:
    """One reused connection; STARTTLS when offered (smtp://), implicit TLS for smtps://."""

    rate_limited = True

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.tls_context = ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None
        self._stage = "mail"

    def connect(self) -> None:
        if self._smtp is not None:
            return
        try:
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls_context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            smtp.ehlo()
            if not self.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise ConnectionFailure(_reply(exc.smtp_code, exc.smtp_error)) from None
        except smtplib.SMTPResponseException as exc:
            raise ConnectionFailure(_reply(exc.smtp_code, exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailure(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self._smtp = smtp

    def send(self, envelope_from: str, envelope_to: str, data: bytes, message_id: str) -> None:
        reused = self._smtp is not None
        self.connect()
        options = ["SMTPUTF8"] if not envelope_to.isascii() or not envelope_from.isascii() else []
        try:
            try:
                self._transaction(envelope_from, envelope_to, data, options)
            except smtplib.SMTPServerDisconnected:
                # A server may hang up between messages (after every N, or when idle). If the
                # reused connection was already gone at MAIL, none of this message was sent:
                # sending it on a new connection cannot duplicate it, and costs no attempt.
                if not (reused and self._stage == "mail"):
                    raise
                self._drop()
                self.connect()
                self._transaction(envelope_from, envelope_to, data, options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = next(iter(exc.recipients.values()))
            self._after_error(code)
            if 500 <= code < 600:
                raise RecipientRejected(_reply(code, message)) from None
            raise TemporaryFailure(_reply(code, message)) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._after_error(exc.smtp_code)
            if 500 <= exc.smtp_code < 600:
                raise MessageRejected(_reply(exc.smtp_code, exc.smtp_error)) from None
            raise TemporaryFailure(_reply(exc.smtp_code, exc.smtp_error)) from None
        except smtplib.SMTPNotSupportedError:
            self._after_error(None)
            raise MessageRejected(f"not sent: {envelope_to} has non-ASCII letters before the @, which only a mail "
                                  f"server offering SMTPUTF8 (RFC 6531) accepts, and this one does not") from None
        except smtplib.SMTPResponseException as exc:
            self._after_error(exc.smtp_code)
            raise TemporaryFailure(_reply(exc.smtp_code, exc.smtp_error)) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise TemporaryFailure(f"connection lost: {exc or type(exc).__name__}") from None

    def _transaction(self, sender: str, recipient: str, data: bytes, options: list[str]) -> None:
        """smtplib's sendmail for one recipient, remembering how far it got (see `send`)."""
        smtp = self._smtp
        assert smtp is not None
        self._stage = "mail"
        smtp.ehlo_or_helo_if_needed()
        if not options and smtp.has_extn("pipelining") and _plain(sender) and _plain(recipient):
            self._pipelined(smtp, sender, recipient, data)
            return
        code, reply = smtp.mail(sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        self._stage = "rcpt"
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        self._stage = "data"
        code, reply = smtp.data(data)
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _pipelined(self, smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
        """MAIL, RCPT and DATA in one write (RFC 2920), then the message: two round trips, not four.

        Why: on a fast relay the waits for each reply, not the bytes, bound one connection.
        Every reply is read before deciding, so the conversation stays in step whatever fails;
        a DATA accepted after a refused recipient gets an empty message ended at once (RFC 2920 3.1).
        """
        smtp.send(f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
        mail = smtp.getreply()
        self._stage = "rcpt"
        rcpt, go = smtp.getreply(), smtp.getreply()
        self._stage = "data"
        if go[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail[0] != 250:
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], sender)
        if rcpt[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
        if go[0] != 354:
            raise smtplib.SMTPDataError(*go)
        # smtplib's _quote_periods (a dot at the start of any line doubled), without a regex pass.
        stuffed = data.replace(b"\n.", b"\n..")
        if stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        smtp.send(stuffed + (b".\r\n" if stuffed.endswith(b"\r\n") else b"\r\n.\r\n"))
        code, reply = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def _after_error(self, code: int | None) -> None:
        """Keep the connection for a per-recipient refusal, unless the server is closing it (421)."""
        if code == 421 or self._smtp is None:
            self._drop()
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._drop()


class FileTransport:
    """Writes each message as an .eml file that a person can open in a mail program.

    The file name comes from the Message-ID, so sending the same row twice
    overwrites one file rather than creating a second.
    """

    rate_limited = False

    def __init__(self, folder: Path):
        self.folder = folder

    def connect(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, envelope_from: str, envelope_to: str, data: bytes, message_id: str) -> None:
        self.connect()
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", message_id.strip("<>")) + ".eml"
        path = self.folder / name
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def close(self) -> None:
        pass


def make_transport(smtp_url: str | None, outbox: Path, timeout: float = 30.0) -> Transport:
    return SMTPTransport(smtp_url, timeout) if smtp_url else FileTransport(outbox)


