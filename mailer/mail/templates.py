"""Email templates: staff-editable, so rendered in a sandbox with strict variables.

A template may only read the variables it is given; a typo is reported with its
file and line when a campaign is created or previewed, not halfway through a send.
A render is bounded in output (`max_message_bytes`) and in work (mailer.mail.sandbox).
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)

from mailer.errors import DomainError
from mailer.mail.sandbox import DEFAULT_MAX_MESSAGE_BYTES, Refused, Sandbox, render_work

MAX_SUBJECT_CHARS = 998  # one header line (RFC 5322 section 2.1.1)

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
        with render_work(self.max_message_bytes):  # one work budget for subject, text and HTML
            return self._render_bounded(loaded, context)

    def _render_bounded(self, loaded: Loaded, context: dict[str, Any]) -> Rendered:
        current = loaded.text_name
        budget = _Budget(self.max_message_bytes)
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
        except Refused as exc:
            template, line = _template_frame(exc, self.roots, current)
            raise TemplateProblem(template, line, exc.message, exc.code, **exc.params) from None
        except TemplateSyntaxError as exc:
            raise TemplateProblem(exc.name or current, exc.lineno, exc.message or str(exc)) from None
        except (TemplateError, OverflowError, RecursionError) as exc:  # a float's **, a macro calling itself
            template, line = _template_frame(exc, self.roots, current)
            raise TemplateProblem(template, line, str(exc)) from None
        if not subject:
            raise TemplateProblem(loaded.text_name, None, "the subject block is empty", "subject_empty")
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
