"""Reading one message from the bounce mailbox: what it is, whom it is about, what the server said.

flufl.bounce (Mailman's detectors for RFC 3464 DSNs and the formats of Exim, qmail, Postfix,
Exchange and others) finds the failed recipients; it does not report status codes, so the
RFC 3464 fields (Action, Status, Diagnostic-Code) are read where the report has them, and
otherwise the first enhanced code in the text. Whether the message is *ours* is not decided
here: only the signed tag (verp.py) does that, and `tag_text` is where it may be found.

Reading never raises on bad input: a message that cannot be parsed is reported as what it
seems to be, with a `problem`, and the reader goes on with the next one.
"""

from __future__ import annotations

import email
import email.message
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flufl.bounce import all_failures

from mailer.mail.replies import StatusClass, enhanced_status, status_class

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # a delivery report is a few kB; of anything bigger only this much is read
TEXT_LIMIT = 256 * 1024  # of each text part, for status codes and tags

HARD, SOFT, AUTOREPLY, COMPLAINT, NOT_BOUNCE = "hard", "soft", "autoreply", "complaint", "not-bounce"
KINDS = (HARD, SOFT, AUTOREPLY, COMPLAINT, NOT_BOUNCE)

DAEMON = re.compile(r"mailer-daemon|postmaster|mail delivery|mail administrator|MAILER_DAEMON", re.IGNORECASE)
AUTOREPLY_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matisk)?[ -]?(svar|reply|response)|automatiskt svar|"
    r"frånvaro|abwesenheit|auto:|vacation|semester)",
    re.IGNORECASE,
)
# A report whose MIME structure is broken may be read wrongly: it is reported, and nothing acts on it.
STRUCTURAL_DEFECTS = {
    "NoBoundaryInMultipartDefect",
    "StartBoundaryNotFoundDefect",
    "CloseBoundaryNotFoundDefect",
    "MultipartInvariantViolationDefect",
    "InvalidMultipartContentTransferEncodingDefect",
    "FirstHeaderLineIsContinuationDefect",
}
ADDRESS = re.compile(r"[^\s<>\"'()\[\],;:]+@[^\s<>\"'()\[\],;:]+")


@dataclass
class Reading:
    kind: str
    recipients: list[str] = field(default_factory=list)
    status: str | None = None
    reply: str | None = None  # the reporting server's words (Diagnostic-Code or the report's text)
    counts: bool = False  # a soft bounce that counts toward soft_bounce_limit
    delayed: bool = False  # a warning that the server is still trying (soft, counts for nothing)
    tag_text: str = ""
    problem: str | None = None
    trusted: bool = True  # False when cut short or broken in its structure: reported, never acted on
    original_ids: list[str] = field(default_factory=list)  # Message-IDs of the message the report is about


def read_message(data: bytes, truncated: bool = False) -> Reading:
    try:
        message = email.message_from_bytes(data)
        reading = _classify(message)
        reading.tag_text = _tag_text(message)
        reading.original_ids = _original_ids(message)
        defects = _defects(message)
    except Exception as exc:  # a parser or a detector tripping over broken input: report, carry on
        log.warning("cannot read message: %s: %s", type(exc).__name__, exc)
        return Reading(NOT_BOUNCE, problem=f"unreadable message: {type(exc).__name__}", trusted=False)
    reading.trusted = not truncated and not (defects & STRUCTURAL_DEFECTS)
    problems = []
    if truncated:
        problems.append(f"larger than {MAX_BYTES // (1024 * 1024)} MB: only the beginning was read")
    if defects:
        problems.append("malformed MIME: " + ", ".join(sorted(defects)))
    reading.problem = "; ".join(problems) or None
    return reading


def _classify(message: email.message.Message) -> Reading:
    if _is_complaint(message):
        return Reading(COMPLAINT, recipients=_complaint_recipients(message))
    dsn = _dsn_recipients(message)
    if dsn:
        return _from_dsn(dsn)
    sender = str(message.get("from", ""))
    if _is_autoreply(message) and not DAEMON.search(sender):
        return Reading(AUTOREPLY)
    temporary, permanent = all_failures(message)
    if permanent or temporary:
        text = _body_text(message)
        status = enhanced_status(text)
        recipients = sorted({_address(raw) for raw in (permanent or temporary)} - {""})
        reply = _reply_near(text, status)
        if not permanent:  # a warning: the server is still trying
            return Reading(SOFT, recipients, status, reply, delayed=True)
        # Permanent in the detector's judgement; with no code to say whose fault, it is counted
        # (soft) rather than taken on a heuristic's word: a dead address is suppressed after a few.
        return _by_status(recipients, status, reply)
    if _is_autoreply(message):
        return Reading(AUTOREPLY)
    return Reading(NOT_BOUNCE)


def _by_status(recipients: list[str], status: str | None, reply: str | None) -> Reading:
    kind = status_class(status)
    if kind is StatusClass.RECIPIENT:
        return Reading(HARD, recipients, status, reply)
    return Reading(SOFT, recipients, status, reply, counts=kind is StatusClass.MAILBOX)


# -- RFC 3464 delivery status notifications --------------------------------------------------


@dataclass
class _Recipient:
    address: str
    action: str
    status: str | None
    diagnostic: str | None


def _dsn_recipients(message: email.message.Message) -> list[_Recipient]:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        blocks: list[email.message.Message]
        if isinstance(payload, list):
            blocks = [block for block in payload if isinstance(block, email.message.Message)]
        else:  # some servers send the fields as plain text: parse the blocks ourselves
            text = payload if isinstance(payload, str) else ""
            blocks = [
                email.message_from_string(block.strip() + "\n") for block in re.split(r"\n\s*\n", text) if block.strip()
            ]
        found = []
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            address = _address(str(block.get("final-recipient") or block.get("original-recipient") or ""))
            action = str(block.get("action", "")).strip().lower()
            if not address or not action:
                continue
            diagnostic = _unfold(block.get("diagnostic-code"))
            status = enhanced_status(str(block.get("status", "")))
            said = enhanced_status(diagnostic)
            if status is None or (status.endswith(".0.0") and said and said[0] == status[0]):
                status = said or status  # "5.0.0" says less than the remote server's "550 5.1.1"
            found.append(_Recipient(address, action, status, diagnostic))
        if found:
            return found
    return []


def _from_dsn(recipients: list[_Recipient]) -> Reading:
    failed = [recipient for recipient in recipients if recipient.action == "failed"]
    if failed:
        first = failed[0]
        reading = _by_status([recipient.address for recipient in failed], first.status, first.diagnostic)
        if first.status is None:  # failed, and no code anywhere: a failure all the same
            reading.kind, reading.counts = SOFT, True
        return reading
    delayed = [recipient for recipient in recipients if recipient.action == "delayed"]
    if delayed:  # a warning: the server keeps trying; counts for nothing
        return Reading(
            SOFT, [recipient.address for recipient in delayed], delayed[0].status, delayed[0].diagnostic, delayed=True
        )
    return Reading(NOT_BOUNCE)  # delivered, relayed, expanded


# -- complaints (ARF, RFC 5965) and auto-replies (RFC 3834) ----------------------------------


def _is_complaint(message: email.message.Message) -> bool:
    if (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "feedback-report"
    ):
        return True
    return any(part.get_content_type() == "message/feedback-report" for part in message.walk())


def _complaint_recipients(message: email.message.Message) -> list[str]:
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            blocks = (
                [block for block in payload if isinstance(block, email.message.Message)]
                if isinstance(payload, list)
                else [email.message_from_string(str(payload))]
            )
            for block in blocks:
                for value in block.get_all("original-rcpt-to", []):
                    found.append(_address(str(value)))
    return sorted(set(found) - {""})


def _is_autoreply(message: email.message.Message) -> bool:
    submitted = str(message.get("auto-submitted", "")).strip().lower()
    if submitted and not submitted.startswith("no"):
        return True
    if any(message.get(name) for name in ("x-autoreply", "x-autorespond", "x-autoresponse")):
        return True
    if str(message.get("precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(AUTOREPLY_SUBJECT.search(_header_text(message.get("subject"))))


# -- text helpers ----------------------------------------------------------------------------


def _address(raw: str | bytes) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if ";" in text:  # "rfc822; anna@example.org"
        text = text.split(";", 1)[1]
    match = ADDRESS.search(text)
    return match.group(0).strip(".").lower() if match else ""


def _unfold(value: Any) -> str | None:
    if value is None:
        return None
    return re.sub(r"\s*\n\s*", " ", str(value)).strip() or None


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (UnicodeError, LookupError, email.errors.HeaderParseError):
        return str(value)


def _text_parts(message: email.message.Message) -> Iterator[str]:
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        decoded = part.get_payload(decode=True)  # bytes, or None when there is nothing
        payload = decoded if isinstance(decoded, bytes) else b""
        charset = part.get_content_charset() or "utf-8"
        try:
            yield payload[:TEXT_LIMIT].decode(charset, "replace")
        except LookupError:
            yield payload[:TEXT_LIMIT].decode("utf-8", "replace")


def _body_text(message: email.message.Message) -> str:
    """The report's own words: its first text part (the returned copy comes later)."""
    return next(_text_parts(message), "")


def _reply_near(text: str, status: str | None) -> str | None:
    """The line that carries the code, or the report's first lines: kept with a suppression."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if status:
        for line in lines:
            if status in line:
                return line[:500]
    return " ".join(lines[:6])[:500] or None


def _tag_text(message: email.message.Message) -> str:
    """Every header of the report and of each message or header block quoted in it (the original's
    Return-Path, an ARF report's Original-Mail-From), and the text parts (reports that quote the
    original as plain text: qmail, Exim). Only a correctly signed tag found here counts."""
    pieces = []
    for part in message.walk():
        pieces += [str(value) for value in part.values()]
    pieces += list(_text_parts(message))
    return "\n".join(pieces)


MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
QUOTED_MESSAGE_ID = re.compile(r"^Message-ID:[ \t]*(<[^<>\s]+@[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)


def _original_ids(message: email.message.Message) -> list[str]:
    """The Message-ID of the returned original (its quoted headers), and what the report itself
    says it answers (In-Reply-To, References: Exchange and Gmail set them)."""
    values = [str(value) for name in ("in-reply-to", "references") for value in message.get_all(name, [])]
    for part in message.walk():
        inner_messages = part.get_payload()
        if part.get_content_type() == "message/rfc822" and isinstance(inner_messages, list):
            values += [
                str(value)
                for inner in inner_messages
                if isinstance(inner, email.message.Message)
                for value in inner.get_all("message-id", [])
            ]
        elif part.get_content_type() == "text/rfc822-headers":
            quoted = email.message_from_string(next(_text_parts(part), ""))
            values += [str(value) for value in quoted.get_all("message-id", [])]
    for text in _text_parts(message):  # a copy quoted as plain text (qmail, Exim)
        values += QUOTED_MESSAGE_ID.findall(text)
    found: list[str] = []
    for value in values:
        for match in MESSAGE_ID.findall(value):
            if match not in found:
                found.append(match)
    return found


def _defects(message: email.message.Message) -> set[str]:
    return {type(defect).__name__ for part in message.walk() for defect in part.defects}
