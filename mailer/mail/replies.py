"""What an SMTP reply means for us: whose fault it is, read from its enhanced status code (RFC 3463).

Why not just 4xx/5xx: relays answer their own quota and policy refusals with 5xx on RCPT
(`550 5.4.5 Daily SMTP relay limit exceeded`, `550 5.7.1 Too many messages`). Taking those
for dead mailboxes suppressed a whole list after one quota hit. So only the codes that say
the *recipient's mailbox* is wrong suppress; anything that says the relay, the sender or the
message is at fault never does, and makes the sender pause instead.

The reply's enhanced code (class.subject.detail) decides first; the basic code and the text
only where a server sends no enhanced code (RFC 3463 is optional).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# A server without enhanced codes that talks about its own limits.
# Substrings, not words: Microsoft writes "SubmissionQuotaExceededException".
LIMIT_WORDS = re.compile(r"limit|quota|\brate\b|too many|throttl|exceeded", re.IGNORECASE)
# ... or about us (authentication, relaying, reputation) rather than the mailbox.
SENDER_WORDS = re.compile(r"\b(relay\w*|auth\w*|policy|spam|block\w*|blacklist\w*|reputation|sender|helo|"
                          r"denied|not permitted|tls)\b", re.IGNORECASE)
# ... or, plainly, about the mailbox.
MAILBOX_WORDS = re.compile(r"\b(user|mailbox|recipient|address|unknown|no such|not exist|does not exist|"
                           r"doesn't exist|invalid|unavailable|not found)\b", re.IGNORECASE)
ADDRESSES = re.compile(r"<?[^\s<>@]+@[^\s<>]+>?")

HARD_RECIPIENT = {"1.1", "1.2", "1.3", "1.6", "1.10", "2.1"}  # bad mailbox, bad domain, moved, disabled
SENDER_ADDRESS = {"1.7", "1.8"}  # our own From is at fault


class Fault(enum.StrEnum):
    """Whose fault a refusal is, and so what the sender does with it."""

    HARD = "hard"  # the recipient's address is dead: suppress
    SOFT = "soft"  # the recipient's mailbox is temporarily unable (full, busy): try again later
    TEMPORARY = "temporary"  # a temporary problem of this message: try again later
    MESSAGE = "message"  # this message was refused for itself: failed, nobody suppressed
    POLICY = "policy"  # the relay's policy refused our mail: pause the campaign
    RELAY = "relay"  # the relay as a whole refuses (quota, closing, our sender): pause all sending


@dataclass(frozen=True)
class Verdict:
    fault: Fault
    reason: str  # a short code for people: quota, closing, sender, policy, system, mailbox, ...
    status: str | None  # the enhanced status code, e.g. "5.4.5", when the server sent one

    @property
    def pauses(self) -> bool:
        return self.fault in (Fault.POLICY, Fault.RELAY)

    @property
    def suppresses(self) -> bool:
        return self.fault is Fault.HARD


def enhanced_status(text: str) -> str | None:
    """The first RFC 3463 code in a reply's text ("550 5.1.1 <a@b>: no such user" -> "5.1.1")."""
    match = ENHANCED.search(text)
    return ".".join(match.groups()) if match else None


def classify(code: int, text: str, stage: str = "rcpt") -> Verdict:
    """The verdict on one refusal; `stage` is where it came: connect, mail, rcpt or data."""
    status = enhanced_status(text)
    basic = code // 100
    if code == 421:
        return Verdict(Fault.RELAY, "closing", status)
    if stage in ("connect", "mail"):
        # A refused greeting, login or MAIL FROM refuses every message alike, whatever it says.
        if status is not None and status.split(".", 1)[1] == "4.5" or LIMIT_WORDS.search(text):
            return Verdict(Fault.RELAY, "quota", status)
        return Verdict(Fault.RELAY, "sender" if stage == "mail" else "login", status)
    if status is not None:
        return _by_status(basic, status, text)
    if LIMIT_WORDS.search(text):
        return Verdict(Fault.RELAY, "quota", None)
    if basic == 4:
        return Verdict(Fault.TEMPORARY, "temporary", None)
    if stage == "rcpt" and MAILBOX_WORDS.search(text) and not SENDER_WORDS.search(text):
        return Verdict(Fault.HARD, "mailbox", None)  # "550 User unknown" from a server without RFC 3463
    if SENDER_WORDS.search(text):
        return Verdict(Fault.POLICY, "policy", None)
    return Verdict(Fault.MESSAGE, "message", None)


def _by_status(basic: int, status: str, text: str) -> Verdict:
    klass, subject_detail = status.split(".", 1)
    subject = subject_detail.split(".")[0]
    if subject_detail in HARD_RECIPIENT:
        if klass == "5":
            return Verdict(Fault.HARD, "mailbox", status)
        return Verdict(Fault.SOFT, "mailbox", status)
    if subject_detail in SENDER_ADDRESS:
        return Verdict(Fault.RELAY, "sender", status)
    if subject == "2" and subject_detail != "2.2" and LIMIT_WORDS.search(text):
        if MAILBOX_WORDS.search(text):  # "5.2.0 Mailbox quota exceeded": a full mailbox
            return Verdict(Fault.SOFT, "mailbox_full", status)
        return Verdict(Fault.RELAY, "quota", status)  # 5.2.0 SubmissionQuotaExceeded: our quota, not theirs
    if subject_detail == "2.2" or (subject == "2" and klass == "4"):
        return Verdict(Fault.SOFT, "mailbox_full" if subject_detail == "2.2" else "mailbox", status)
    if subject_detail == "4.5":
        return Verdict(Fault.RELAY, "quota", status)
    if subject == "7":
        if LIMIT_WORDS.search(text):
            return Verdict(Fault.RELAY, "quota", status)
        if klass == "4":  # greylisting and other "not now" policies: this message, later
            return Verdict(Fault.TEMPORARY, "policy", status)
        return Verdict(Fault.POLICY, "policy", status)
    if subject == "3" and subject_detail != "3.4":  # the relay's own system (3.4: message too big)
        return Verdict(Fault.RELAY, "system", status)
    if subject in ("4", "5") and LIMIT_WORDS.search(text):
        return Verdict(Fault.RELAY, "quota", status)
    if klass == "4":
        return Verdict(Fault.TEMPORARY, "temporary", status)
    return Verdict(Fault.MESSAGE, "message", status)


def same_reply(text: str) -> str:
    """A reply with its addresses taken out: what the circuit breaker compares."""
    return " ".join(ADDRESSES.sub("<>", text).lower().split())
