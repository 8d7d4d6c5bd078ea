"""What an enhanced status code (RFC 3463) says about a failed delivery, and the words for it.

Three classes matter for what happens to an address (the dead-mailbox and sender-address codes are
the ones mail/replies.py judges refusals during sending by):
- RECIPIENT: the address is dead (x.1.1 no such user, x.1.2/x.1.3 bad domain or syntax, x.1.6 moved,
  x.2.1 disabled, x.1.10 null MX): one such bounce suppresses it.
- MAILBOX: the mailbox exists but could not take the message now (x.2.2 full, expiry x.4.7, codes
  that say nothing more): soft, counted; enough of them within 30 days suppress.
- OURS: the sender's, the relay's or the message's fault (x.7.x policy and authentication, x.3.x
  system, x.4.x routing and quota other than expiry, x.5/x.6 protocol and content, a refused
  sender address x.1.7/x.1.8): soft, and never held against the recipient.
"""

from __future__ import annotations

import enum
import re

from mailer.mail.replies import HARD_RECIPIENT, SENDER_ADDRESS
from mailer.translations import N_, translate

STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")


class StatusClass(enum.StrEnum):
    RECIPIENT = "recipient"
    MAILBOX = "mailbox"
    OURS = "ours"




def find_status(text: str | None) -> str | None:
    """The first enhanced status code in a reply or diagnostic text, e.g. '5.1.1'."""
    match = STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def status_class(status: str | None) -> StatusClass:
    """No code at all says nothing against anyone: counted like a full mailbox."""
    if not status:
        return StatusClass.MAILBOX
    subject_detail = status.split(".", 1)[1]
    if subject_detail in HARD_RECIPIENT:  # the same codes as for a refusal during sending (mail/replies.py)
        return StatusClass.RECIPIENT
    subject, detail = (int(part) for part in subject_detail.split("."))
    if subject in (3, 5, 6, 7) or (subject == 4 and detail != 7) or subject_detail in SENDER_ADDRESS:
        return StatusClass.OURS
    if (subject, detail) == (2, 3):  # message too big for the mailbox: the message's fault
        return StatusClass.OURS
    return StatusClass.MAILBOX


# What the reply means, for staff and the organisations' quality lists: catalog keys (the texts,
# Swedish and English, are in mailer/translations), by "subject.detail", then by subject.
EXPLANATIONS: dict[str, str] = {
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
UNKNOWN = N_("bounce.explain.unknown")


def explain(status: str | None, lang: str = "sv") -> str:
    """One sentence on what the reply means, in Swedish or English."""
    key = UNKNOWN
    if status:
        _, subject, detail = status.split(".")
        key = EXPLANATIONS.get(f"{subject}.{detail}") or EXPLANATIONS.get(subject) or UNKNOWN
    return translate(key, lang)
