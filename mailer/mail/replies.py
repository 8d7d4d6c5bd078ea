"""What an SMTP reply means for us: whose fault it is, read from its enhanced status code (RFC 3463).

Why not just 4xx/5xx: relays answer their own quota and policy refusals with 5xx on RCPT
(`550 5.4.5 Daily SMTP relay limit exceeded`, `550 5.7.1 Too many messages`). Taking those
for dead mailboxes suppressed a whole list after one quota hit. So only the codes that say
the *recipient's mailbox* is wrong suppress; anything that says the relay, the sender or the
message is at fault never does, and makes the sender pause instead.

The reply's enhanced code (class.subject.detail) decides first; the basic code and the text
only where a server sends no enhanced code (RFC 3463 is optional).

This module is the one place that reads replies and status codes, for every use:
- `classify`: the verdict on a refusal during sending (the sender and the relay act on it);
- `status_class`: how a delivery report's code counts against an address (mailer.bounces);
- `explain_status`: a report's code in words for staff and the organisations' quality lists;
- `reply_kind` / `explain_reply`: a failed or retried message's last reply in words (the digest);
- `explain_pause`: why sending paused (a verdict's reason, or the sender's own), in words.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from mailer.translations import N_, translate

# An RFC 3463 code, not part of a longer dotted number (a version, an address); a sentence's
# full stop after it ("Status: 5.1.1.") does not hide it.
ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
# A server without enhanced codes that talks about its own limits.
# Substrings, not words: Microsoft writes "SubmissionQuotaExceededException".
LIMIT_WORDS = re.compile(r"limit|quota|\brate\b|too many|throttl|exceeded", re.IGNORECASE)
# ... or about us (authentication, relaying, reputation) rather than the mailbox.
SENDER_WORDS = re.compile(
    r"\b(relay\w*|auth\w*|policy|spam|block\w*|blacklist\w*|reputation|sender|helo|"
    r"denied|not permitted|tls)\b",
    re.IGNORECASE,
)
# ... or, plainly, about the mailbox.
MAILBOX_WORDS = re.compile(
    r"\b(user|mailbox|recipient|address|unknown|no such|not exist|does not exist|"
    r"doesn't exist|invalid|unavailable|not found)\b",
    re.IGNORECASE,
)
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


def enhanced_status(text: str | None) -> str | None:
    """The first RFC 3463 code in a reply's text ("550 5.1.1 <a@b>: no such user" -> "5.1.1")."""
    match = ENHANCED.search(text or "")
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


# --- A delivery report's code: how it counts against the address, and what it means ---------------


class StatusClass(enum.StrEnum):
    """How a delivery report counts (mailer.bounces acts on it).

    - RECIPIENT: the address is dead (the HARD_RECIPIENT codes): one such report suppresses it.
    - MAILBOX: the mailbox exists but could not take the message now (x.2.2 full, expiry x.4.7,
      codes that say nothing more): soft, counted; enough of them within 30 days suppress.
    - OURS: the sender's, the relay's or the message's fault (x.7.x policy and authentication, x.3.x
      system, x.4.x routing and quota other than expiry, x.5/x.6 protocol and content, a refused
      sender address x.1.7/x.1.8, x.2.3 too big): soft, and never held against the recipient.
    """

    RECIPIENT = "recipient"
    MAILBOX = "mailbox"
    OURS = "ours"


def status_class(status: str | None) -> StatusClass:
    """No code at all says nothing against anyone: counted like a full mailbox."""
    if not status:
        return StatusClass.MAILBOX
    subject_detail = status.split(".", 1)[1]
    if subject_detail in HARD_RECIPIENT:  # the same codes as for a refusal during sending
        return StatusClass.RECIPIENT
    subject, detail = (int(part) for part in subject_detail.split("."))
    if subject in (3, 5, 6, 7) or (subject == 4 and detail != 7) or subject_detail in SENDER_ADDRESS:
        return StatusClass.OURS
    if (subject, detail) == (2, 3):  # message too big for the mailbox: the message's fault
        return StatusClass.OURS
    return StatusClass.MAILBOX


# What a report's code means, for staff and the organisations' quality lists: catalog keys, by
# "subject.detail", then by subject.
STATUS_EXPLANATIONS: dict[str, str] = {
    "1.1": N_("bounce.explain.no_such_user"),
    "1.2": N_("bounce.explain.bad_domain"),
    "1.3": N_("bounce.explain.bad_syntax"),
    "1.6": N_("bounce.explain.moved"),
    "1.10": N_("bounce.explain.no_such_address"),
    "2.1": N_("bounce.explain.disabled"),
    "2.2": N_("bounce.explain.mailbox_full"),
    "2.3": N_("bounce.explain.too_large"),
    "4.7": N_("bounce.explain.expired"),
    "7": N_("bounce.explain.policy"),
    "3": N_("bounce.explain.system"),
    "4": N_("bounce.explain.routing"),
    "5": N_("bounce.explain.protocol"),
    "6": N_("bounce.explain.content"),
    "2": N_("bounce.explain.mailbox"),
    "1": N_("bounce.explain.address"),
}
UNKNOWN_STATUS = N_("bounce.explain.unknown")


def explain_status(status: str | None, lang: str = "sv") -> str:
    """One sentence on what a report's code means, in Swedish or English."""
    key = UNKNOWN_STATUS
    if status:
        _, subject, detail = status.split(".")
        key = STATUS_EXPLANATIONS.get(f"{subject}.{detail}") or STATUS_EXPLANATIONS.get(subject) or UNKNOWN_STATUS
    return translate(key, lang)


# --- A message's last reply (or connection error), in words for the digest -------------------------

# The catalog keys explain_reply uses, by kind (listed so the extractor finds them).
REPLY_EXPLANATIONS = (
    N_("reply.explain.no_such_user"),
    N_("reply.explain.no_such_domain"),
    N_("reply.explain.mailbox_disabled"),
    N_("reply.explain.mailbox_full"),
    N_("reply.explain.too_large"),
    N_("reply.explain.refused"),
    N_("reply.explain.temporary"),
    N_("reply.explain.unreachable"),
    N_("reply.explain.unknown"),
    N_("reply.explain.gave_up"),
)
BASIC = re.compile(r"^\s*([245]\d\d)\b")
NO_SUCH_USER_WORDS = ("user unknown", "no such user", "does not exist", "unknown user")
UNREACHABLE_WORDS = (
    "timed out",
    "timeout",
    "connection refused",
    "connection reset",
    "disconnected",
    "name or service not known",
)


def reply_kind(reply: str | None) -> str:
    """The kind of a message's last reply: no_such_user, mailbox_full, temporary, unreachable, ..."""
    text = (reply or "").lower()
    status = enhanced_status(text)
    if status is not None:
        klass, subject, detail = status.split(".")
        if klass == "4":
            return "mailbox_full" if (subject, detail) == ("2", "2") else "temporary"
        if subject == "1" and detail in ("1", "6", "10"):
            return "no_such_user"
        if subject == "1" and detail == "2":
            return "no_such_domain"
        if subject == "2":
            return {"1": "mailbox_disabled", "2": "mailbox_full", "3": "too_large"}.get(detail, "refused")
        if subject == "3" and detail == "4":
            return "too_large"
        if subject == "7":
            return "refused"
        if subject == "4":
            return "no_such_domain" if detail in ("4", "1") else "unreachable"
    if any(phrase in text for phrase in NO_SUCH_USER_WORDS):
        return "no_such_user"
    if any(phrase in text for phrase in UNREACHABLE_WORDS):
        return "unreachable"
    basic = BASIC.match(text)
    if basic:
        code = basic.group(1)
        if code.startswith("4"):
            return "temporary"
        if code in ("550", "551", "553"):
            return "no_such_user"
        if code == "552":
            return "mailbox_full"
        if code == "554":
            return "refused"
    return "unknown"


def explain_reply(reply: str | None, lang: str = "sv", final: bool = False) -> str:
    """The reply in words; `final` when no further attempt will be made (the message failed)."""
    kind = reply_kind(reply)
    if final and kind in ("temporary", "unreachable"):
        kind = "gave_up"
    return translate(f"reply.explain.{kind}", lang)


# Why sending paused: a verdict's reason above, or the sender's own (breaker, timeout, limit).
PAUSE_REASONS = ("quota", "policy", "closing", "sender", "login", "system", "breaker", "timeout", "limit")


def explain_pause(reason: str | None, lang: str) -> str:
    """The reason in plain words (catalog key digest.pause_reason.<reason>); an unknown one as it is."""
    return translate(f"digest.pause_reason.{reason}", lang) if reason in PAUSE_REASONS else reason or ""
