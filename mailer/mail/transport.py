"""Where messages go: a real SMTP relay, or files in instance/outbox/ when none is configured.

The sender only knows this small interface and the outcomes below. Every refusal carries the
verdict of `mailer.mail.replies` (whose fault it is, by the RFC 3463 code), so a relay's quota
or policy reply can never be mistaken for a dead mailbox, whatever its basic code.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from mailer.db import utcnow
from mailer.mail.replies import Fault, Verdict, classify


class TransportError(Exception):
    def __init__(self, reply: str, verdict: Verdict | None = None):
        super().__init__(reply)
        self.reply = reply
        self.verdict = verdict


class TemporaryFailure(TransportError):
    """4xx, a recipient's full mailbox, a dropped connection: try this message again later."""


class ConnectionFailure(TemporaryFailure):
    """Could not reach or log in to the server: nothing was attempted for any message."""


class RelayTimeout(ConnectionFailure):
    """The server did not answer in time (connecting, or one command).

    Nothing is known about the message, so it is neither sent nor failed: it goes back to the
    queue. `maybe_delivered` when the wait came in the DATA stage (perhaps for the reply to the
    message's end): the server may have taken it, so the row is flagged uncertain, as after a crash.
    """

    def __init__(self, reply: str, maybe_delivered: bool = False):
        super().__init__(reply)
        self.maybe_delivered = maybe_delivered


class RecipientRejected(TransportError):
    """The recipient's address is dead (x.1.1, x.1.2, x.1.3, x.1.6, x.2.1, 5.1.10): a hard bounce."""


class MessageRejected(TransportError):
    """This message was refused for itself: it failed, the address is not to blame."""


class RelayRefused(TransportError):
    """The relay refused for reasons of its own or of our sender (quota, policy, 421, MAIL FROM):
    nobody is to blame but the sending; the sender pauses (verdict.fault RELAY or POLICY)."""

    verdict: Verdict  # always classified: the pause needs its reason

    def __init__(self, reply: str, verdict: Verdict):
        super().__init__(reply, verdict)


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

    def __init__(self, url: str, timeout: float = 30.0, connect_timeout: float = 10.0):
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout  # for each command's reply
        self.connect_timeout = connect_timeout  # for the connection and the server's greeting
        self.tls_context = ssl.create_default_context()
        self._smtp: smtplib.SMTP | None = None
        self._stage = "mail"

    def connect(self) -> None:
        if self._smtp is not None:
            return
        smtp: smtplib.SMTP | None = None
        try:
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.connect_timeout, context=self.tls_context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.connect_timeout)
            # Connected and greeted: from here each command waits up to smtp_timeout. `sock` is
            # smtplib's public socket attribute; STARTTLS wraps it keeping this timeout.
            assert smtp.sock is not None, "connected and greeted"
            smtp.sock.settimeout(self.timeout)
            smtp.ehlo()
            if not self.implicit_tls and smtp.has_extn("starttls"):
                smtp.starttls(context=self.tls_context)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password or "")
        except smtplib.SMTPResponseException as exc:  # a refused greeting or login, e.g. 535 5.7.8
            _close_quietly(smtp)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise ConnectionFailure(reply, classify(exc.smtp_code, reply, "connect")) from None
        except (OSError, smtplib.SMTPException) as exc:
            _close_quietly(smtp)
            if timed_out(exc):
                raise RelayTimeout(
                    f"{self.host}:{self.port} did not answer within "
                    f"{self.connect_timeout if smtp is None else self.timeout:g} s"
                ) from None
            raise ConnectionFailure(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self._smtp = smtp

    def send(self, envelope_from: str, envelope_to: str, data: bytes, message_id: str) -> None:
        reused = self._smtp is not None
        self.connect()
        options = ["SMTPUTF8"] if not envelope_to.isascii() or not envelope_from.isascii() else []
        try:
            try:
                self._transaction(envelope_from, envelope_to, data, options)
            except smtplib.SMTPServerDisconnected as exc:
                # A server may hang up between messages (after every N, or when idle). If the
                # reused connection was already gone at MAIL, none of this message was sent:
                # sending it on a new connection cannot duplicate it, and costs no attempt.
                if not (reused and self._stage == "mail") or timed_out(exc):
                    raise
                self._drop()
                self.connect()
                self._transaction(envelope_from, envelope_to, data, options)
        except smtplib.SMTPRecipientsRefused as exc:
            code, message = next(iter(exc.recipients.values()))
            self._after_error(code)
            raise refusal(code, _reply(code, message), "rcpt") from None
        except smtplib.SMTPSenderRefused as exc:
            self._after_error(exc.smtp_code)
            raise refusal(exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error), "mail") from None
        except smtplib.SMTPDataError as exc:
            self._after_error(exc.smtp_code)
            raise refusal(exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error), "data") from None
        except smtplib.SMTPNotSupportedError:
            self._after_error(None)
            raise MessageRejected(
                f"not sent: {envelope_to} has non-ASCII letters before the @, which only a mail "
                f"server offering SMTPUTF8 (RFC 6531) accepts, and this one does not"
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._after_error(exc.smtp_code)
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise refusal(exc.smtp_code, reply, self._stage) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if timed_out(exc):
                raise RelayTimeout(
                    f"{self.host}:{self.port} did not answer within {self.timeout:g} s",
                    maybe_delivered=self._stage in ("data", "sent"),
                ) from None
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
        self._stage = "sent"  # the server has the whole message: a lost reply may mean it took it
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
        now = utcnow().timestamp()  # the app's clock tells the file's age (retention), not the file system's
        os.utime(temporary, (now, now))
        os.replace(temporary, path)

    def close(self) -> None:
        pass


def make_transport(
    smtp_url: str | None, outbox: Path, timeout: float = 30.0, connect_timeout: float = 10.0
) -> Transport:
    return SMTPTransport(smtp_url, timeout, connect_timeout) if smtp_url else FileTransport(outbox)


def refusal(code: int, reply: str, stage: str) -> TransportError:
    """The exception for a refused command, by whose fault it is (mailer.mail.replies)."""
    verdict = classify(code, reply, stage)
    if verdict.fault is Fault.HARD:
        return RecipientRejected(reply, verdict)
    if verdict.pauses:
        return RelayRefused(reply, verdict)
    if verdict.fault is Fault.MESSAGE:
        return MessageRejected(reply, verdict)
    return TemporaryFailure(reply, verdict)


def timed_out(exc: BaseException) -> bool:
    """A socket timeout, also when smtplib reports it as SMTPServerDisconnected (raised while
    handling the TimeoutError, so it is the exception's __context__)."""
    link: BaseException | None = exc
    for _ in range(10):  # a chain is short; never follow a cycle
        if link is None:
            return False
        if isinstance(link, TimeoutError):
            return True
        link = link.__cause__ or link.__context__
    return False


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass
