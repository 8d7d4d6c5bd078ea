"""Email templates: staff-editable, so rendered in a sandbox with strict variables.

A template may only read the variables it is given; a typo is reported with its
file and line when a campaign is created or previewed, not halfway through a send.
A render is bounded in output (`max_message_bytes`) and in work (see `Sandbox`).
"""

from __future__ import annotations

import copy
import functools
import math
import re
import string
import time
import traceback
import types
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.ext import Extension
from jinja2.lexer import (
    TOKEN_BLOCK_BEGIN,
    TOKEN_BLOCK_END,
    TOKEN_LBRACE,
    TOKEN_LBRACKET,
    TOKEN_LPAREN,
    TOKEN_NAME,
    TOKEN_PIPE,
    TOKEN_RBRACE,
    TOKEN_RBRACKET,
    TOKEN_RPAREN,
    Token,
    TokenStream,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from mailer.errors import DomainError

MAX_SUBJECT_CHARS = 998  # one header line (RFC 5322 section 2.1.1)
DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # the `max_message_bytes` setting's default
# The work one render may do (subject, text and HTML, with everything they include, import or call):
# see _Work for why these numbers.
MAX_LOOP_ITEMS = 1_000_000
MAX_RENDER_SECONDS = 5.0
MAX_NUMBER_DIGITS = 4300  # Python's own limit for printing an int (sys.get_int_max_str_digits())

TEMPLATE_NAMES = (
    "invitation",
    "reminder",
    "information",
    "confirmation",
    "thanks",
    "meeting_update",
    "meeting_cancelled",
    "digest",
    "org_report",
    "signup_confirmation",
    "series_invitation",
    "series_reminder",
)
CAMPAIGN_TEMPLATES = ("invitation", "reminder", "information", "thanks")
# A round to a series: the invitee chooses a session (files "series_invitation", "series_reminder").
SERIES_TEMPLATES = ("invitation", "reminder")
STAFF_TEMPLATES = ("digest", "org_report")
# Mail to an address with a context fixed when it was queued (row.to_email, row.extra), not to a contact:
# staff mail, and the sign-up confirmation to someone who is nobody's contact until they confirm.
ADDRESSED_TEMPLATES = (*STAFF_TEMPLATES, "signup_confirmation")
# Mail to members: each must carry the person's unsubscribe link and the notice beside it.
RECIPIENT_TEMPLATES = tuple(name for name in TEMPLATE_NAMES if name not in ADDRESSED_TEMPLATES)
# Service mail about a meeting the person signed up for, not marketing: it reaches them even
# after they unsubscribed from invitations (never after a bounce or an erasure).
SERVICE_TEMPLATES = ("confirmation", "information", "meeting_update", "meeting_cancelled")


def packaged_templates_path() -> Path:
    """Templates shipped in the wheel, or the checkout's own folder in an editable install."""
    inside = Path(__file__).resolve().parent.parent / "default_templates" / "email"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[2] / "templates" / "email"


class TemplateProblem(DomainError):
    """A template that cannot be rendered, named by file and line.

    Jinja's own errors keep its (English) message; mailer's limits carry a `code`
    ("too_large", "subject_too_long", and the work limits "too_much_work", "too_slow",
    "value_too_large", "number_too_large") whose catalog text ("template_problem.<code>")
    says it in the reader's language.
    """

    prefix = "template_problem."

    def __init__(self, template: str, line: int | None, message: str, code: str | None = None, **params: Any):
        where = f"{template}:{line}" if line else template
        Exception.__init__(self, f"{where}: {message}")
        self.template, self.line, self.message = template, line, message
        self.code, self.params = code or "", {"where": where, **params}

    def render(self, language: str | None) -> str:
        return super().render(language) if self.code else str(self)

    def __str__(self) -> str:
        return str(self.args[0])


def _too_large(template: str, limit: int) -> TemplateProblem:
    mb = round(limit / (1024 * 1024), 1)
    return TemplateProblem(
        template, None, f"the rendered message is larger than {mb:g} MB (max_message_bytes)", "too_large", mb=f"{mb:g}"
    )


class _Budget:
    """What is left of the message size limit while rendering.

    Why streamed: a template looping a million times would otherwise build its whole
    output (hundreds of MB) before anything could refuse it.
    """

    def __init__(self, limit: int):
        self.limit, self.left = limit, limit

    def take(self, chunks: Iterable[str], template: str) -> str:
        parts = []
        for chunk in chunks:
            self.left -= len(chunk)
            if self.left < 0:
                raise _too_large(template, self.limit)
            parts.append(chunk)
        return "".join(parts)


# -- the work budget -----------------------------------------------------------------------------------


class _Refused(Exception):
    """A work limit hit inside the template; render_loaded() names the file and line."""

    def __init__(self, code: str, message: str, **params: Any):
        super().__init__(message)
        self.code, self.message, self.params = code, message, params

    def at(self, template: str, line: int | None) -> TemplateProblem:
        return TemplateProblem(template, line, self.message, self.code, **self.params)


def _too_big(operation: str, limit: int) -> _Refused:
    return _Refused(
        "value_too_large",
        f"{operation} makes a value that is too large (at most {limit} characters or items)",
        operation=operation,
        max=limit,
    )


def _too_many_digits(operation: str) -> _Refused:
    return _Refused(
        "number_too_large",
        f"{operation} makes a number with more than {MAX_NUMBER_DIGITS} digits",
        operation=operation,
        max=MAX_NUMBER_DIGITS,
    )


class _Work:
    """What is left of one render's work: loop items and time.

    Why 1,000,000 items: a real mail loops over a few questions, meetings or sessions, and the
    largest, the weekly digest, over a few hundred rows; a million is thousands of times that, and
    still takes well under a second to count. Why 5 seconds: a real render takes milliseconds, and
    a busy server with every thread rendering at once is still far from it. The clock is what stops
    a loop whose body is costly without producing anything. Both are per render (subject, text
    and HTML of one message), so one mail cannot hold a web thread and the GIL for minutes.
    """

    def __init__(self, max_bytes: int, items: int = MAX_LOOP_ITEMS, seconds: float = MAX_RENDER_SECONDS):
        self.max_bytes, self.items_left, self.seconds = max_bytes, items, seconds
        self.deadline = time.monotonic() + seconds
        self.steps = 0

    def count(self, items: int) -> None:
        """`items` more loop rounds (or items made by range(), lipsum() and padding filters)."""
        self.items_left -= items
        if self.items_left < 0:
            raise _Refused(
                "too_much_work",
                f"the template does too much work: its loops and range() go round more than {MAX_LOOP_ITEMS} times",
                max=MAX_LOOP_ITEMS,
            )
        self.tick()

    def tick(self) -> None:
        """One step of the template (a loop round, a call, an operator); the clock is read every 16th."""
        self.steps += 1
        if self.steps % 16 == 0 and time.monotonic() > self.deadline:
            raise _Refused(
                "too_slow",
                f"rendering took more than {self.seconds:g} seconds and was stopped",
                seconds=f"{self.seconds:g}",
            )


# The current render's work; render_loaded() sets it for the subject, the text and the HTML.
_WORK: ContextVar[_Work | None] = ContextVar("mailer_template_work", default=None)


def _current() -> _Work:
    """The current render's budget; outside a render (Jinja folding a constant while it compiles a
    template) a budget of its own, so that the limits still hold."""
    work = _WORK.get()
    return work if work is not None else _Work(DEFAULT_MAX_MESSAGE_BYTES)


class _CountedRange:
    """range() in a template: what it yields is counted against the render's budget."""

    def __init__(self, numbers: range):
        self._numbers = numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self) -> Iterator[int]:
        return _counted(iter(self._numbers))

    def __reversed__(self) -> Iterator[int]:
        return _counted(reversed(self._numbers))

    def __getitem__(self, index: Any) -> Any:
        item = self._numbers[index]
        return _CountedRange(item) if isinstance(item, range) else item

    def __contains__(self, item: object) -> bool:
        return item in self._numbers

    def __repr__(self) -> str:
        return repr(self._numbers)


def _counted(items: Iterator[Any]) -> Iterator[Any]:
    work = _current()
    for item in items:
        work.count(1)
        yield item


def _range(*args: int) -> _CountedRange:
    """The sandbox's own limit per call (MAX_RANGE), and every item counted."""
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise _too_big("range()", MAX_RANGE)
    return _CountedRange(numbers)


def _counted_loop(value: Any) -> Any:
    """The filter every `{% for %}` goes through (see _CountedLoops)."""
    return value if isinstance(value, _CountedRange) else _counted(iter(value))


_OPENING = {TOKEN_LPAREN, TOKEN_LBRACKET, TOKEN_LBRACE}
_CLOSING = {TOKEN_RPAREN, TOKEN_RBRACKET, TOKEN_RBRACE}


class _CountedLoops(Extension):
    """`{% for x in EXPR %}` compiles as `{% for x in (EXPR)|mailer_counted_loop %}`.

    Why: loops over a list or a string need no range() (`{% for a in s %}{% for b in s %}…`),
    and only the loop itself can count them. A filter, not a global, so a template cannot
    shadow it with a variable of the same name. Done on the token stream (the documented
    Extension.filter_stream), so included, imported and extended templates are counted too.
    """

    def __init__(self, environment: Environment):
        super().__init__(environment)
        environment.filters["mailer_counted_loop"] = _counted_loop

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        state, depth, previous = "", 0, None  # state: "target", "in" (just after it), "iterable"
        for token in stream:
            ends = token.type == TOKEN_BLOCK_END or token.test_any("name:if", "name:recursive")
            if state == "in":
                if ends:
                    state = ""  # nothing to loop over: left for the parser to report as written
                else:
                    yield Token(token.lineno, TOKEN_LPAREN, "(")
                    state, depth = "iterable", 0
            if state == "iterable" and depth == 0 and ends:
                yield Token(token.lineno, TOKEN_RPAREN, ")")
                yield Token(token.lineno, TOKEN_PIPE, "|")
                yield Token(token.lineno, TOKEN_NAME, "mailer_counted_loop")
                state = ""
            if state:
                depth += (token.type in _OPENING) - (token.type in _CLOSING)
            yield token
            if state == "target" and depth == 0 and token.test("name:in"):
                state = "in"
            elif state == "target" and token.type == TOKEN_BLOCK_END:
                state = ""  # no `in`: likewise
            elif not state and token.test("name:for") and previous is not None and previous.type == TOKEN_BLOCK_BEGIN:
                state, depth = "target", 0
            previous = token


class _BoundedNamespace(Namespace):
    """namespace(): a value kept across loop rounds (`{% set ns.s = ns.s ~ ns.s %}`) may not grow
    past the message limit."""

    def __setitem__(self, name: str, value: Any) -> None:
        limit = _current().max_bytes
        if isinstance(value, str | list | tuple) and len(value) > limit:
            raise _too_big("namespace", limit)
        super().__setitem__(name, value)


_WIDTH = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= 18 else 10**18


def _check_printf(operation: str, template: Any, args: Any, limit: int) -> None:
    """`"%9999999d" % 1`: the widths and precisions of a %-format, added up, against the limit."""
    text = str(template)
    total, star = len(text), False
    for match in _WIDTH.finditer(text):
        for group in match.groups():
            star = star or group == "*"
            total += _number(group) if group and group != "*" else 0
    if star:
        values = args if isinstance(args, tuple) else (args,)
        total += sum(abs(value) for value in values if isinstance(value, int))
    if total > limit:
        raise _too_big(operation, limit)


def _check_format(text: str, limit: int) -> None:
    """`"{:>999999999}".format(1)`: the widths of a str.format() string; a width taken from an
    argument (`{:{w}}`) cannot be checked here (the call's arguments are not seen), so it is refused."""
    total = len(text)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # malformed: format() itself says so
    for _literal, _field, spec, _conversion in fields:
        if spec and "{" in spec:
            raise _too_big("format()", limit)
        total += sum(_number(digits) for digits in re.findall(r"\d+", spec or ""))
    if total > limit:
        raise _too_big("format()", limit)


def _check_binop(operator: str, left: Any, right: Any, limit: int) -> None:
    sequences = (str, list, tuple)
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, sequences) and isinstance(times, int) and len(sequence) * times > limit:
                raise _too_big("'*'", limit)
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > _MAX_BITS:
            raise _too_many_digits("'*'")
    elif operator == "+":
        if isinstance(left, sequences) and isinstance(right, sequences) and len(left) + len(right) > limit:
            raise _too_big("'+'", limit)
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if left.bit_length() * right > _MAX_BITS:
                raise _too_many_digits("'**'")
    elif operator == "%" and isinstance(left, str):
        _check_printf("'%'", left, right, limit)


_MAX_BITS = math.ceil(MAX_NUMBER_DIGITS * math.log2(10))


def _argument(values: list[Any], kwargs: dict[str, Any], index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return values[index] if index < len(values) else default


def _check_center(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    width = _argument(values, kwargs, 1, "width", 80)
    if isinstance(width, int) and width > work.max_bytes:
        raise _too_big("center", work.max_bytes)


def _check_indent(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    text, width = str(_argument(values, kwargs, 0, "s", "")), _argument(values, kwargs, 1, "width", 4)
    pad = width if isinstance(width, int) else len(str(width))
    if len(text) + (text.count("\n") + 1) * pad > work.max_bytes:
        raise _too_big("indent", work.max_bytes)


def _check_wordwrap(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    """textwrap breaks a long word by copying what is left of it each time: the cost grows with the
    square of the text's length over the width, kept under 10^9 characters copied."""
    text, width = str(_argument(values, kwargs, 0, "s", "")), _argument(values, kwargs, 1, "width", 79)
    wrapstring = _argument(values, kwargs, 3, "wrapstring", None)
    if not isinstance(width, int) or width < 1:
        return  # the filter itself refuses it
    longest = math.isqrt(10**9 * width)
    if len(text) > longest:
        raise _too_big("wordwrap", longest)
    if wrapstring is not None and len(text) + (len(text) // width + 1) * len(str(wrapstring)) > work.max_bytes:
        raise _too_big("wordwrap", work.max_bytes)


def _check_format_filter(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    if values:
        _check_printf("format", values[0], tuple(values[1:]) or kwargs, work.max_bytes)


def _check_replace(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    text = str(_argument(values, kwargs, 0, "s", ""))
    old, new = str(_argument(values, kwargs, 1, "old", "")), str(_argument(values, kwargs, 2, "new", ""))
    count = _argument(values, kwargs, 3, "count", None)
    times = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    if len(text) + times * (len(new) - len(old)) > work.max_bytes:
        raise _too_big("replace", work.max_bytes)


def _check_join(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    """Reads the items once (a generator is replaced by the list) to add up the result."""
    if not values:
        return
    values[0] = items = list(values[0])
    separator = str(_argument(values, kwargs, 1, "d", ""))
    size = len(separator) * max(len(items) - 1, 0) + sum(len(item) for item in items if isinstance(item, str))
    if size > work.max_bytes:
        raise _too_big("join", work.max_bytes)


def _check_padding(name: str, index: int) -> Callable[[list[Any], dict[str, Any], _Work], None]:
    """batch(n, fill) and slice(n, fill) make up to n items (of filling) from nothing: counted."""

    def check(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
        size = _argument(values, kwargs, index, name, 0)
        if isinstance(size, int) and size > 0:
            work.count(size)

    return check


def _check_tojson(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    indent = _argument(values, kwargs, 1, "indent", None)
    if indent is not None and (indent if isinstance(indent, int) else len(str(indent))) > 64:
        raise _too_big("tojson", 64)


_FILTER_CHECKS: dict[str, Callable[[list[Any], dict[str, Any], _Work], None]] = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "format": _check_format_filter,
    "replace": _check_replace,
    "join": _check_join,
    "batch": _check_padding("linecount", 1),
    "slice": _check_padding("slices", 1),
    "tojson": _check_tojson,
}
# Called on strings they make text of any size from a small number, with no filter's check:
# refused as unsafe attributes (the filters of the same names are bounded).
_UNBOUNDED_STR_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate", "maketrans"}
)


def _bounded_filter(original: Callable[..., Any], check: Callable[[list[Any], dict[str, Any], _Work], None]) -> Any:
    """The filter, after its check; functools.wraps keeps Jinja's pass_eval_context/pass_environment
    marks, so the wrapper gets the same arguments as the filter (the first one skipped here)."""

    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        lead = 1 if args and isinstance(args[0], EvalContext | Environment | Context) else 0
        values = list(args[lead:])
        work = _current()
        work.tick()
        check(values, kwargs, work)
        return original(*args[:lead], *values, **kwargs)

    return bounded


def _bounded_lipsum(original: Any) -> Callable[..., Any]:
    @functools.wraps(original)
    def lipsum(*args: Any, **kwargs: Any) -> Any:
        values = list(args)
        paragraphs = _argument(values, kwargs, 0, "n", 5)
        words = max(_argument(values, kwargs, 2, "min", 20), _argument(values, kwargs, 3, "max", 100))
        if isinstance(paragraphs, int) and isinstance(words, int) and paragraphs > 0 and words > 0:
            _current().count(paragraphs * words)
        return original(*args, **kwargs)

    return lipsum


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, bounded in work as well as in what it may reach.

    Counted against one budget per render (_Work: 1,000,000 items, 5 seconds), through a
    ContextVar that render_loaded() sets, so every template of the render (extended, included,
    imported, macros) shares it:
    - every item of every range() (and still at most MAX_RANGE items in one call);
    - every round of every `{% for %}`, over whatever it loops (_CountedLoops);
    - items that lipsum(), batch(n, fill) and slice(n, fill) make from a number.
    The 5 seconds are checked at every loop round, call, intercepted operator, attribute and
    bounded filter, so a loop whose body is costly but produces nothing stops too.

    Refused, by size, before the work is done (the message limit, `max_message_bytes`):
    - `*` and `+` making a str, list or tuple longer than the limit, and `*` or `**` making an int
      with more than 4300 digits (intercepted_binops / call_binop, Jinja's "Operator
      Intercepting"); `%` and the format filter with widths adding up past the limit;
    - str.format() with such widths, or with a width taken from an argument;
    - the filters center, indent, wordwrap, replace, join, tojson(indent) past the limit;
    - a namespace() attribute longer than the limit;
    - the str methods center, ljust, rjust, zfill, expandtabs, replace, join, translate and
      maketrans (unsafe attributes: use the filters).

    Left unbounded (what a template can still do, each bounded by the sizes above but not counted):
    `~` concatenation (not an interceptable operator; `a ~ a ~ a …` can join many values of up
    to the limit each, and a recursive macro can double a string at each call, until the call
    depth runs out); work inside one filter or method call over a value within the limit (sorting
    or mapping a 10 MB list, sum() of lists), which the clock only sees after the call returns;
    and memory in general. A render in a separate process with a hard CPU and memory limit would
    bound all of these.
    """

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(extensions=[_CountedLoops], **options)
        self.globals["range"] = _range
        self.globals["lipsum"] = _bounded_lipsum(self.globals["lipsum"])
        self.globals["namespace"] = _BoundedNamespace
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _bounded_filter(self.filters[name], check)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        work = _current()
        work.tick()
        _check_binop(operator, left, right, work.max_bytes)
        return super().call_binop(context, operator, left, right)

    def is_safe_callable(self, obj: Any) -> bool:
        work = _current()
        work.tick()
        inner = getattr(obj, "__wrapped__", None)  # the sandbox's own wrapper of str.format
        if (
            isinstance(inner, types.MethodType | types.BuiltinMethodType)
            and inner.__name__ in ("format", "format_map")
            and isinstance(inner.__self__, str)
        ):
            _check_format(inner.__self__, work.max_bytes)
        return super().is_safe_callable(obj)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        _current().tick()
        if isinstance(obj, str | bytes) and attr in _UNBOUNDED_STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)


class MissingUnsubscribe(TemplateProblem, DomainError):
    """The rendered mail has lost the recipient's unsubscribe link (and with it the Art. 21 notice)."""

    prefix = "error.template."

    def __init__(self, template: str):
        TemplateProblem.__init__(self, template, None, "the rendered message has no unsubscribe link")
        self.code, self.params = "unsubscribe_missing", {"file": template}


@dataclass(frozen=True)
class Loaded:
    text_name: str
    html_name: str
    text: Template
    html: Template


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class EmailTemplates:
    def __init__(self, override_path: Path | None = None, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        self.max_message_bytes = max_message_bytes
        self.roots = [path for path in (override_path, packaged_templates_path()) if path is not None]
        self.env = Sandbox(
            loader=ChoiceLoader([FileSystemLoader(str(path)) for path in self.roots]),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        )
        self._inliner = css_inline.CSSInliner(keep_style_tags=False)
        # (each template file's path and mtime, the frozen copy): see for_sending()
        self._for_sending: tuple[tuple[tuple[str, int], ...], EmailTemplates] | None = None

    def for_sending(self) -> EmailTemplates:
        """The same templates, without Jinja's check for edits at every render.

        Why: with auto-reload Jinja stat()s a template and everything it extends or includes
        each time it is used, four files a message. A sender takes this once per batch; it is
        made again when a file under the template folders changed (a staff member's edit).
        """
        version = tuple(
            (str(path), path.stat().st_mtime_ns)
            for root in self.roots
            for path in sorted(root.rglob("*"))
            if path.is_file()
        )
        if self._for_sending is None or self._for_sending[0] != version:
            frozen = copy.copy(self)
            frozen.env = self.env.overlay(auto_reload=False, cache_size=400)  # own cache: templates bound to it
            frozen._for_sending = None
            self._for_sending = (version, frozen)
        return self._for_sending[1]

    def names(self, name: str, language: str) -> tuple[str, str]:
        """The (text, html) template names for a language, falling back to Swedish."""
        loaded = self.load(name, language)
        return loaded.text_name, loaded.html_name

    def load(self, name: str, language: str) -> Loaded:
        """The template's two files for a language (Swedish when it has none); raises TemplateProblem.

        A sender renders many messages from one Loaded: Jinja checks the files for edits at
        each get_template(), which would be eight stat() calls a message.
        """
        if name not in TEMPLATE_NAMES:
            raise TemplateProblem(name, None, f"unknown template (choose one of {', '.join(TEMPLATE_NAMES)})")
        for lang in (language, "sv"):
            try:
                return Loaded(
                    f"{lang}/{name}.txt",
                    f"{lang}/{name}.html",
                    self.env.get_template(f"{lang}/{name}.txt"),
                    self.env.get_template(f"{lang}/{name}.html"),
                )
            except TemplateNotFound:
                continue
            except TemplateSyntaxError as exc:
                raise TemplateProblem(exc.name or name, exc.lineno, exc.message or str(exc)) from None
        raise TemplateProblem(f"{language}/{name}", None, "template files not found")

    def render(self, name: str, language: str, context: dict[str, Any]) -> Rendered:
        """Render subject, text and HTML (CSS inlined); raises TemplateProblem with file:line.

        Refused as well: a subject longer than one header line (998 characters) and a
        message larger than `max_message_bytes`, with a message saying which.
        """
        return self.render_loaded(self.load(name, language), context)

    def render_loaded(self, loaded: Loaded, context: dict[str, Any]) -> Rendered:
        current = loaded.text_name
        budget = _Budget(self.max_message_bytes)
        work = _WORK.set(_Work(self.max_message_bytes))  # one work budget for subject, text and HTML
        try:
            subject = self._subject(loaded.text, context, budget, loaded.text_name)
            subject = " ".join(subject.split())
            if len(subject) > MAX_SUBJECT_CHARS:
                raise TemplateProblem(
                    loaded.text_name,
                    None,
                    f"the subject is {len(subject)} characters long; at most {MAX_SUBJECT_CHARS} fit in a mail header",
                    "subject_too_long",
                    chars=len(subject),
                    max=MAX_SUBJECT_CHARS,
                )
            text = budget.take(loaded.text.generate(context), loaded.text_name).strip() + "\n"
            current = loaded.html_name
            html = budget.take(loaded.html.generate(context, subject=subject), loaded.html_name)
        except _Refused as exc:
            template, line = _template_frame(exc, self.roots, current)
            raise exc.at(template, line) from None
        except TemplateSyntaxError as exc:
            raise TemplateProblem(exc.name or current, exc.lineno, exc.message or str(exc)) from None
        except (TemplateError, OverflowError, RecursionError) as exc:  # a float's **, a macro calling itself
            template, line = _template_frame(exc, self.roots, current)
            raise TemplateProblem(template, line, str(exc)) from None
        finally:
            _WORK.reset(work)
        if not subject:
            raise TemplateProblem(loaded.text_name, None, "the subject block is empty")
        html = self._inliner.inline(html)
        size = sum(len(part.encode("utf-8")) for part in (subject, text, html))
        if size > self.max_message_bytes:
            raise _too_large(loaded.html_name, self.max_message_bytes)
        return Rendered(subject=subject, text=text, html=html)

    def require_unsubscribe(self, name: str, language: str, rendered: Rendered, url: str) -> None:
        """Checked on the rendered output, so any layout that keeps the link passes; raises
        MissingUnsubscribe naming the file (text or HTML) whose output lacks it."""
        text_name, html_name = self.names(name, language)
        if url not in rendered.text:
            raise MissingUnsubscribe(text_name)
        if url not in rendered.html and escape(url) not in rendered.html:
            raise MissingUnsubscribe(html_name)

    def _subject(self, template: Template, context: dict[str, Any], budget: _Budget, name: str) -> str:
        """The subject block alone. Called directly, a block's errors keep Jinja's generated
        line numbers; handle_exception() rewrites them to the template's, as render() does."""
        if "subject" not in template.blocks:
            return ""
        try:
            return budget.take(template.blocks["subject"](template.new_context(dict(context))), name)
        except TemplateProblem:
            raise
        except Exception:
            self.env.handle_exception()


def _template_frame(exc: BaseException, roots: list[Path], fallback: str) -> tuple[str, int | None]:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    found: tuple[str, int | None] = (fallback, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        for root in roots:
            try:
                found = (str(Path(frame.filename).resolve().relative_to(root.resolve())), frame.lineno)
            except ValueError:
                continue
    return found
