"""The pieces of a flattened message, made exactly as the email package makes them, only faster.

Why: see fast.py. Each function here reproduces one step of EmailMessage + BytesGenerator
for the shapes of data mailer sends (checked against the email package by the tests, and by
FastComposer against compose() at run time), and hands anything else to the email package.
"""

from __future__ import annotations

import base64
import functools
import re
from email import contentmanager, policy as email_policy, quoprimime

from icalendar import parser as ical_parser

from mailer.config import Settings
from mailer.mail.ics import meeting_ics
from mailer.meetings.models import Meeting

PER_RECIPIENT_HEADERS = (b"to", b"subject", b"date", b"message-id", b"list-unsubscribe")
UNSTRUCTURED = ("Subject",)  # headers whose value is free text (no address syntax)
BUILD_POLICY = email_policy.default  # the policy EmailMessage() encodes bodies with in build_message
MAX_LINE = BUILD_POLICY.max_line_length
SENTINEL_URL = "https://zqx.invalid/zqxsentinelzqx"  # nothing in it that iCalendar escapes or folds around
ICS_UNSAFE = re.compile(r"[^\x21-\x7e]|[,;\\^]")
_foldline = getattr(ical_parser, "_foldline", None) or ical_parser.foldline  # icalendar 7 made it private


def raw_header(name: str, value: str) -> bytes:
    """A header written as it is (see SEND_POLICY), as the generator writes a set_raw() one."""
    return f"{name}: {value}\r\n".encode("ascii")


def fold_header(name: str, value: str, policy) -> bytes:
    """A header exactly as the generator writes it.

    A short one-line value that needs no encoding is written as it is, and one long ASCII
    word (in a Subject) as RFC 2047 encoded words, both as the email package's folding
    does; anything else goes through the email package itself.
    """
    maxlen = policy.max_line_length
    plain = value.isprintable() and "=?" not in value and value == value.strip() and "  " not in value
    if plain and len(name) + 2 + len(value) <= maxlen and (policy.utf8 or value.isascii()):
        return f"{name}: {value}\r\n".encode("utf-8")
    if plain and name in UNSTRUCTURED and " " not in value and value.isascii() and len(value) >= maxlen:
        folded = _fold_as_encoded_words(name, value.encode("ascii"), maxlen)
        if folded is not None:
            return folded
    if plain and name in ADDRESS_HEADERS and not policy.utf8:
        folded = _fold_named_address(name, value, maxlen)
        if folded is not None:
            return folded
    return policy.fold_binary(name, BUILD_POLICY.header_factory(name, value))


ADDRESS_HEADERS = ("To",)
_NAMED_ADDRESS = re.compile(r"([^<>\"]+) <([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)>")


def _fold_named_address(name: str, value: str, maxlen: int) -> bytes | None:
    """`Åsa Öberg <a@b>` as the email package folds it, when it fits on one line.

    For a display name of plain words (letters, digits, hyphens) the email package makes one
    encoded word of everything from the first word with non-ASCII letters to the last, and
    leaves the ASCII words around it as they are (its _refold_parse_tree combines encoded
    words across the words between them). Anything else, or anything longer, returns None.
    """
    match = _NAMED_ADDRESS.fullmatch(value)
    if match is None or value.isascii():
        return None
    words = match.group(1).split(" ")
    if not all(word and all(_plain_name_character(c) for c in word) for word in words):
        return None
    marked = [i for i, word in enumerate(words) if not word.isascii()]
    first, last = marked[0], marked[-1]
    raw = " ".join(words[first:last + 1]).encode("utf-8")
    q = "".join(_Q_HEADER[c] for c in raw)
    b = base64.b64encode(raw).decode("ascii")
    encoded = f"=?utf-8?q?{q}?=" if len(q) - len(b) < 5 else f"=?utf-8?b?{b}?="
    line = " ".join([f"{name}:", *words[:first], encoded, *words[last + 1:], f"<{match.group(2)}>"])
    return (line + "\r\n").encode("ascii") if len(line) <= maxlen else None


def _plain_name_character(c: str) -> bool:
    """An ASCII letter, digit or hyphen, or a non-ASCII letter (å, é, ø …)."""
    return c.isalpha() or c == "-" or (c.isascii() and c.isdigit())


_Q_SAFE = frozenset(b"-!*+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_Q_CODE = [chr(c) if c in _Q_SAFE else f"={c:02X}" for c in range(256)]
_Q_HEADER = [*_Q_CODE[:32], "_", *_Q_CODE[33:]]  # in a header's encoded word a space is "_"
EW_CHROME = len("=?utf-8?q??=")


def _fold_as_encoded_words(name: str, word: bytes, maxlen: int) -> bytes | None:
    """email's _fold_as_ew for one ASCII word too long for any line, in linear time.

    Each line takes the longest prefix whose encoded word fits, the encoding being 'q' unless
    base64 is at least 5 characters shorter (what _encoded_words.encode picks).
    """
    cost = [0]
    for byte in word:
        cost.append(cost[-1] + len(_Q_CODE[byte]))
    lines, start = [f"{name}: "], 0
    while start < len(word):
        room = maxlen - len(lines[-1])
        take = min(room - EW_CHROME, len(word) - start)
        while take > 0:
            q, b = cost[start + take] - cost[start], (take + 2) // 3 * 4
            if EW_CHROME + (q if q - b < 5 else b) <= room:
                break
            take -= 1
        if take <= 0:
            return None
        chunk = word[start:start + take]
        q, b = cost[start + take] - cost[start], (take + 2) // 3 * 4
        encoded = "q?" + "".join(_Q_CODE[c] for c in chunk) if q - b < 5 else "b?" + base64.b64encode(chunk).decode()
        lines[-1] += f"=?utf-8?{encoded}?="
        start += take
        if start < len(word):
            lines.append(" ")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


_QP_MAP = quoprimime._QUOPRI_BODY_ENCODE_MAP  # what body_encode translates a body with, first


@functools.lru_cache(maxsize=16384)
def _qp_line(line: bytes) -> bytes:
    # quoprimime encodes line by line, so one template line is encoded once per campaign.
    # A line that is no longer than a line may be and does not end in whitespace is, in
    # body_encode, exactly its translation: take that without the rest of body_encode.
    quoted = line.decode("latin-1").translate(_QP_MAP)
    if len(quoted) <= MAX_LINE and quoted[-1:] not in (" ", "\t"):
        return quoted.encode("ascii")
    return quoprimime.body_encode(line.decode("latin-1"), MAX_LINE).replace("\n", "\r\n").encode("ascii")


def qp_body(text: str) -> bytes:
    """What set_content(text, cte="quoted-printable") and the generator make of a body."""
    return b"\r\n".join(map(_qp_line, text.encode("utf-8").splitlines())) + b"\r\n"


def attachment_body(text: str) -> tuple[str, bytes]:
    """The transfer encoding and the bytes set_content() picks for a text attachment."""
    cte, payload = contentmanager._encode_text(text, "utf-8", None, BUILD_POLICY)
    return cte, payload.replace("\n", "\r\n").encode("ascii", "surrogateescape")


class CalendarTemplate:
    """The meeting's .ics built once by icalendar; per recipient only the link and DTSTAMP change."""

    def __init__(self, meeting: Meeting, settings: Settings):
        raw = meeting_ics(meeting, settings, SENTINEL_URL).decode("utf-8")
        self.lines = [line for line in re.sub(r"\r\n[ \t]", "", raw).split("\r\n") if line]
        self.folded = [_foldline(line) for line in self.lines]
        self.cuts: dict[tuple[int, int], list[int]] = {}

    def _fold(self, index: int, line: str, url_length: int) -> str:
        # Where a line folds depends only on its characters' byte lengths, and a safe link is
        # ASCII: the same cut points serve every link of the same length.
        key = (index, url_length)
        if key not in self.cuts:
            pieces, cuts, at = _foldline(line).split("\r\n "), [], 0
            for piece in pieces[:-1]:
                at += len(piece)
                cuts.append(at)
            self.cuts[key] = cuts
        cuts = self.cuts[key]
        return "\r\n ".join(line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)]))

    def render(self, url: str, dtstamp: str) -> str | None:
        if ICS_UNSAFE.search(url):
            return None
        out = []
        for index, line in enumerate(self.lines):
            if SENTINEL_URL in line:
                out.append(self._fold(index, line.replace(SENTINEL_URL, url), len(url)))
            elif line.startswith("DTSTAMP:"):
                out.append("DTSTAMP:" + dtstamp)
            else:
                out.append(self.folded[index])
        return "\r\n".join(out) + "\r\n"


class Skeleton:
    """A flattened message cut into constant bytes and named holes."""

    def __init__(self, pieces: list[bytes | str], boundaries: list[bytes]):
        self.pieces, self.boundaries = pieces, boundaries

    def fill(self, parts: dict[str, bytes]) -> bytes:
        return b"".join(parts[p] if isinstance(p, str) else p for p in self.pieces)


def cut(flat: bytes, headers: dict[bytes, bytes], bodies: list[tuple[str, bytes]]) -> list[bytes | str] | None:
    """Cut a flattened message at its per-recipient headers and bodies; None if one is not where expected."""
    end = flat.index(b"\r\n\r\n") + 2
    pieces: list[bytes | str] = []
    for field in re.split(rb"(?<=\r\n)(?![ \t])", flat[:end]):
        if not field:
            continue
        name = field.split(b":", 1)[0].strip().lower()
        if name in PER_RECIPIENT_HEADERS:
            if headers.get(name) != field:
                return None
            pieces.append(name.decode())
        else:
            pieces.append(field)
    at = end
    for name, body in bodies:
        found = flat.find(body, at)
        if found < 0:
            return None
        pieces += [flat[at:found], name]
        at = found + len(body)
    pieces.append(flat[at:])
    return pieces
