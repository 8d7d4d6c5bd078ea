"""Jinja's immutable sandbox, bounded in work as well as in what it may reach.

Why: templates are edited by staff in the browser and rendered in the web process (previews,
the check at save) and by the worker for every message. A template of nested loops that prints
nothing (`{% for i in range(100000) %}{% for j in range(100000) %}…`) is not stopped by the
output limit (mailer.mail.templates._Budget), and held the CPU and the GIL for minutes per
preview, so recipients' pages stopped answering. See `Sandbox` for what is counted and refused.
"""

from __future__ import annotations

import functools
import math
import re
import string
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import Environment
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

DEFAULT_MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # the `max_message_bytes` setting's default
# The work one render may do (subject, text and HTML, with everything they include, import or call):
# see _Work for why these numbers.
MAX_LOOP_ITEMS = 1_000_000
MAX_RENDER_SECONDS = 5.0
MAX_NUMBER_DIGITS = 4300  # Python's own limit for printing an int (sys.get_int_max_str_digits())


@contextmanager
def render_work(max_bytes: int) -> Iterator[None]:
    """One work budget for what renders inside the block; inside another render_work block, that
    one's budget goes on (the save check renders every template under one budget, not one each)."""
    if _WORK.get() is not None:
        yield
        return
    token = _WORK.set(_Work(max_bytes))
    try:
        yield
    finally:
        _WORK.reset(token)


class Refused(Exception):
    """A work limit hit inside the template: a `code` ("template_problem.<code>" in the catalogs)
    and its `params`; mailer.mail.templates names the file and line."""

    def __init__(self, code: str, message: str, **params: Any):
        super().__init__(message)
        self.code, self.message, self.params = code, message, params


def _too_big(operation: str, limit: int) -> Refused:
    return Refused(
        "value_too_large",
        f"{operation} makes a value that is too large (at most {limit} characters or items)",
        operation=operation,
        max=limit,
    )


def _too_many_digits(operation: str) -> Refused:
    return Refused(
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
            raise Refused(
                "too_much_work",
                f"the template does too much work: its loops and range() go round more than {MAX_LOOP_ITEMS} times",
                max=MAX_LOOP_ITEMS,
            )
        self.tick()

    def tick(self) -> None:
        """One step of the template (a loop round, a call, an operator); the clock is read every 16th."""
        self.steps += 1
        if self.steps % 16 == 0 and time.monotonic() > self.deadline:
            raise Refused(
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


def _weight(value: Any) -> int:
    """How much a value holds, one level down: a list of 1,000 references to one 10 MB string
    weighs 10 GB, as that is what a filter mapping over it goes through."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple):
        return len(value) + sum(len(item) for item in value if isinstance(item, str | bytes | list | tuple | dict))
    if isinstance(value, dict):
        return len(value)
    return 1


def _check_binop(operator: str, left: Any, right: Any, limit: int) -> None:
    sequences = (str, list, tuple)
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, sequences) and isinstance(times, int) and _weight(sequence) * times > limit:
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


def _check_sum(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    """sum(start=[]) joins lists one by one, copying the growing result each time: refused."""
    start = _argument(values, kwargs, 2, "start", 0)
    if not isinstance(start, int | float):
        raise Refused("sum_numbers", "sum() adds numbers only: its start must be a number")


def _check_small_input(limit: int) -> Callable[[list[Any], dict[str, Any], _Work], None]:
    """Filters that do much work for each character or item (urlize's patterns, pprint's layout):
    their input is kept far below the message limit."""

    def check(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
        if values and _weight(values[0]) > limit:
            raise _too_big("filter", limit)

    return check


def _check_input(values: list[Any], kwargs: dict[str, Any], work: _Work) -> None:
    """Every other filter: its input may hold no more than a message may (see _weight)."""
    if values and _weight(values[0]) > work.max_bytes:
        raise _too_big("filter", work.max_bytes)


_FILTER_CHECKS: dict[str, Callable[[list[Any], dict[str, Any], _Work], None]] = {
    "sum": _check_sum,
    "urlize": _check_small_input(100_000),
    "pprint": _check_small_input(100_000),
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
    - the filters center, indent, wordwrap, replace, join, tojson(indent) past the limit; every
      other filter given more than the limit holds (_weight: a list of 1,000 references to one
      10 MB string holds 10 GB), urlize and pprint more than 100,000, and sum() with a start
      that is not a number (joining lists one by one);
    - a namespace() attribute longer than the limit;
    - the str methods center, ljust, rjust, zfill, expandtabs, replace, join, translate and
      maketrans (unsafe attributes: use the filters).

    Left unbounded (what a template can still do, each bounded by the sizes above but not counted):
    `~` concatenation (not an interceptable operator; `a ~ a ~ a …` can join many values of up
    to the limit each, and a recursive macro can double a string at each call, until the call
    depth runs out); work inside one filter or method call over a value within the limit (sorting
    a 10 MB list, a filter that is slow for each character), which the clock only sees after the call returns;
    and memory in general. A render in a separate process with a hard CPU and memory limit would
    bound all of these.
    """

    intercepted_binops = frozenset({"+", "*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(extensions=[_CountedLoops], **options)
        self.globals["range"] = _range
        self.globals["lipsum"] = _bounded_lipsum(self.globals["lipsum"])
        self.globals["namespace"] = _BoundedNamespace
        for name in [name for name in self.filters if name != "mailer_counted_loop"]:  # the loop counts itself
            check = _FILTER_CHECKS.get(name, _check_input)
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
