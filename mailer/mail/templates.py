"""Email templates: staff-editable, so rendered in a sandbox with strict variables.

A template may only read the variables it is given; a typo is reported with its
file and line when a campaign is created or previewed, not halfway through a send.
"""

from __future__ import annotations

import copy
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import ChoiceLoader, Template, FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound, TemplateSyntaxError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

TEMPLATE_NAMES = ("invitation", "reminder", "information", "confirmation", "thanks", "digest", "org_report")
CAMPAIGN_TEMPLATES = ("invitation", "reminder", "information", "thanks")


def packaged_templates_path() -> Path:
    """Templates shipped in the wheel, or the checkout's own folder in an editable install."""
    inside = Path(__file__).resolve().parent.parent / "default_templates" / "email"
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parents[2] / "templates" / "email"


class TemplateProblem(Exception):
    def __init__(self, template: str, line: int | None, message: str):
        where = f"{template}:{line}" if line else template
        super().__init__(f"{where}: {message}")
        self.template, self.line, self.message = template, line, message


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
    def __init__(self, override_path: Path | None = None):
        self.roots = [p for p in (override_path, packaged_templates_path()) if p is not None]
        self.env = ImmutableSandboxedEnvironment(
            loader=ChoiceLoader([FileSystemLoader(str(p)) for p in self.roots]),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"], default_for_string=False, default=False),
        )
        self._inliner = css_inline.CSSInliner(keep_style_tags=False)
        self._for_sending: tuple[tuple, EmailTemplates] | None = None

    def for_sending(self) -> "EmailTemplates":
        """The same templates, without Jinja's check for edits at every render.

        Why: with auto-reload Jinja stat()s a template and everything it extends or includes
        each time it is used, four files a message. A sender takes this once per batch; it is
        made again when a file under the template folders changed (a staff member's edit).
        """
        version = tuple((str(path), path.stat().st_mtime_ns) for root in self.roots
                        for path in sorted(root.rglob("*")) if path.is_file())
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

    def load(self, name: str, language: str) -> "Loaded":
        """The template's two files for a language (Swedish when it has none); raises TemplateProblem.

        A sender renders many messages from one Loaded: Jinja checks the files for edits at
        each get_template(), which would be eight stat() calls a message.
        """
        if name not in TEMPLATE_NAMES:
            raise TemplateProblem(name, None, f"unknown template (choose one of {', '.join(TEMPLATE_NAMES)})")
        for lang in (language, "sv"):
            try:
                return Loaded(f"{lang}/{name}.txt", f"{lang}/{name}.html", self.env.get_template(f"{lang}/{name}.txt"),
                              self.env.get_template(f"{lang}/{name}.html"))
            except TemplateNotFound:
                continue
            except TemplateSyntaxError as exc:
                raise TemplateProblem(exc.name or name, exc.lineno, exc.message or str(exc)) from None
        raise TemplateProblem(f"{language}/{name}", None, "template files not found")

    def render(self, name: str, language: str, context: dict[str, Any]) -> Rendered:
        """Render subject, text and HTML (CSS inlined); raises TemplateProblem with file:line."""
        return self.render_loaded(self.load(name, language), context)

    def render_loaded(self, loaded: "Loaded", context: dict[str, Any]) -> Rendered:
        current = loaded.text_name
        try:
            subject = self._subject(loaded.text, context)
            subject = " ".join(subject.split())
            text = loaded.text.render(context).strip() + "\n"
            current = loaded.html_name
            html = loaded.html.render(context, subject=subject)
        except TemplateSyntaxError as exc:
            raise TemplateProblem(exc.name or current, exc.lineno, exc.message or str(exc)) from None
        except (TemplateError, OverflowError) as exc:  # OverflowError: the sandbox's range() limit
            template, line = _template_frame(exc, self.roots, current)
            raise TemplateProblem(template, line, str(exc)) from None
        if not subject:
            raise TemplateProblem(loaded.text_name, None, "the subject block is empty")
        return Rendered(subject=subject, text=text, html=self._inliner.inline(html))

    def _subject(self, template, context: dict[str, Any]) -> str:
        """The subject block alone. Called directly, a block's errors keep Jinja's generated
        line numbers; handle_exception() rewrites them to the template's, as render() does."""
        if "subject" not in template.blocks:
            return ""
        try:
            return "".join(template.blocks["subject"](template.new_context(dict(context))))
        except Exception:
            self.env.handle_exception()


def _template_frame(exc: BaseException, roots: list[Path], fallback: str) -> tuple[str, int | None]:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    found = (fallback, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        for root in roots:
            try:
                found = (str(Path(frame.filename).resolve().relative_to(root.resolve())), frame.lineno)
            except ValueError:
                continue
    return found
