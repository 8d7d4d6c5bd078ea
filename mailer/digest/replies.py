"""What a mail server's reply means, in words staff understand (Swedish first, English second).

Servers answer in terse English ("550 5.1.1 <x>: Recipient address rejected: User unknown").
The enhanced status code (RFC 3463, "5.1.1") says what happened more reliably than the
text, so it decides; the basic code and a few common phrases are the fallback.
"""

from __future__ import annotations

import re

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC = re.compile(r"^\s*([245]\d\d)\b")

# kind -> (Swedish, English)
EXPLANATIONS: dict[str, tuple[str, str]] = {
    "no_such_user": ("Adressen finns inte hos mottagarens e-postserver (felstavad, eller personen har slutat).",
                     "The address does not exist at the recipient's mail server (misspelt, or the person has left)."),
    "no_such_domain": ("Domänen finns inte eller tar inte emot e-post (kontrollera stavningen efter @).",
                       "The domain does not exist or takes no mail (check the spelling after the @)."),
    "mailbox_disabled": ("Brevlådan är avstängd.", "The mailbox is disabled."),
    "mailbox_full": ("Brevlådan är full. Personen kan behöva kontaktas på annat sätt.",
                     "The mailbox is full. The person may need to be reached another way."),
    "too_large": ("Mejlet var för stort för mottagarens server.", "The message was too large for the recipient's server."),
    "refused": ("Mottagarens server vägrade ta emot mejlet (skräppostfilter eller spärr).",
                "The recipient's server refused the message (spam filter or block)."),
    "temporary": ("Tillfälligt fel hos mottagarens server; ett nytt försök görs automatiskt.",
                  "A temporary problem at the recipient's server; it is tried again automatically."),
    "unreachable": ("Ingen kontakt med e-postservern; ett nytt försök görs automatiskt.",
                    "The mail server could not be reached; it is tried again automatically."),
    "unknown": ("Okänt fel; se serverns svar.", "Unknown problem; see the server's reply."),
    "gave_up": ("Mottagarens server svarade med tillfälliga fel vid varje försök, så utskicket gav upp. "
                "Försök igen senare, eller kontakta personen på annat sätt.",
                "The recipient's server gave temporary errors at every attempt, so sending gave up. "
                "Try again later, or reach the person another way."),
}


def classify(reply: str | None) -> str:
    """The kind of a reply (a key of EXPLANATIONS)."""
    text = (reply or "").lower()
    enhanced = _ENHANCED.search(text)
    if enhanced:
        klass, subject, detail = enhanced.groups()
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
    if any(phrase in text for phrase in ("user unknown", "no such user", "does not exist", "unknown user")):
        return "no_such_user"
    if any(phrase in text for phrase in ("timed out", "timeout", "connection refused", "connection reset",
                                         "disconnected", "name or service not known")):
        return "unreachable"
    basic = _BASIC.match(text)
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


def explain(reply: str | None, lang: str = "sv", final: bool = False) -> str:
    """The reply in words; `final` when no further attempt will be made (the message failed)."""
    kind = classify(reply)
    if final and kind in ("temporary", "unreachable"):
        kind = "gave_up"
    swedish, english = EXPLANATIONS[kind]
    return english if lang == "en" else swedish
