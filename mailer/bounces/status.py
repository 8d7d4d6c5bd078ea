"""What an enhanced status code (RFC 3463) says about a failed delivery, and the words for it.

Three classes matter for what happens to an address:
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

STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")


class StatusClass(enum.StrEnum):
    RECIPIENT = "recipient"
    MAILBOX = "mailbox"
    OURS = "ours"


HARD_DETAILS = {(1, 1), (1, 2), (1, 3), (1, 6), (1, 10), (2, 1)}


def find_status(text: str | None) -> str | None:
    """The first enhanced status code in a reply or diagnostic text, e.g. '5.1.1'."""
    match = STATUS.search(text or "")
    return ".".join(match.groups()) if match else None


def status_class(status: str | None) -> StatusClass:
    """No code at all says nothing against anyone: counted like a full mailbox."""
    if not status:
        return StatusClass.MAILBOX
    _, subject, detail = (int(part) for part in status.split("."))
    if (subject, detail) in HARD_DETAILS:
        return StatusClass.RECIPIENT
    if subject in (3, 5, 6, 7) or (subject == 4 and detail != 7) or (subject, detail) in ((1, 7), (1, 8)):
        return StatusClass.OURS
    if (subject, detail) == (2, 3):  # message too big for the mailbox: the message's fault
        return StatusClass.OURS
    return StatusClass.MAILBOX


# What the reply means, for staff (Swedish first) and the organisations' quality lists.
# Keyed by "subject.detail", then by subject, then a catch-all.
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "1.1": ("Adressen finns inte hos mottagarens e-postserver.", "The address does not exist at the recipient's mail server."),
    "1.2": ("Domänen finns inte eller tar inte emot e-post.", "The domain does not exist or does not accept mail."),
    "1.3": ("Adressen är felskriven.", "The address is malformed."),
    "1.6": ("Personen har flyttat och adressen används inte längre.", "The person has moved; the address is no longer used."),
    "1.10": ("Adressen finns inte, eller domänen tar inte emot e-post.",
             "The address does not exist, or the domain accepts no mail."),
    "2.1": ("Brevlådan är avstängd.", "The mailbox is disabled."),
    "2.2": ("Brevlådan är full.", "The mailbox is full."),
    "2.3": ("Meddelandet var för stort för mottagarens brevlåda.", "The message was too large for the mailbox."),
    "4.7": ("Mottagarens server svarade inte i tid; leveransen gavs upp.", "The recipient's server did not answer in time; delivery was given up."),
    "7": ("Mottagarens server stoppade meddelandet av policy- eller skräppostskäl; felet ligger inte hos adressen.",
          "The receiving server refused the message for policy or spam reasons; the address is not at fault."),
    "3": ("Fel i mottagarens e-postsystem; försök igen senare.", "A fault in the receiving mail system; it may work later."),
    "4": ("Leveransen stoppades på vägen (nätverk, routning eller sändningsgräns); felet ligger inte hos adressen.",
          "Delivery was stopped on the way (network, routing or a sending limit); the address is not at fault."),
    "5": ("Fel i kommunikationen mellan e-postservrarna.", "A protocol error between the mail servers."),
    "6": ("Mottagarens server tog inte emot meddelandets innehåll.", "The receiving server did not accept the message's content."),
    "2": ("Brevlådan kunde inte ta emot meddelandet just nu.", "The mailbox could not take the message now."),
    "1": ("Problem med adressen.", "A problem with the address."),
}
UNKNOWN = ("Meddelandet kom i retur utan närmare förklaring.", "The message came back without a clear reason.")
DELAYED = ("Leveransen är försenad; servern försöker fortfarande.", "Delivery is delayed; the server is still trying.")
COMPLAINT = ("Mottagaren markerade utskicket som skräppost och har avregistrerats.",
             "The recipient marked the mailing as spam and has been unsubscribed.")


def explain(status: str | None, lang: str = "sv") -> str:
    """One sentence on what the reply means, in Swedish or English."""
    words = UNKNOWN
    if status:
        _, subject, detail = status.split(".")
        words = EXPLANATIONS.get(f"{subject}.{detail}") or EXPLANATIONS.get(subject) or UNKNOWN
    return words[0] if lang == "sv" else words[1]
