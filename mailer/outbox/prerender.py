"""Rendering a campaign's templates once per kind of recipient, not once per recipient.

Why: Jinja and the CSS inliner cost about two thirds of building a message. A template that
only prints a recipient's own values (name, address, links) or tests whether they are empty
renders to the same text and HTML for every recipient of one kind (language, organisations,
first message or not, which values are empty), apart from those values. Such a template is
rendered once per kind with placeholders, and each message fills in its values.

Why it is safe, in three layers:
1. A static check of the templates (with everything they extend, include or import): the
   personal values may only be printed as they are (`{{ rsvp_url }}`) or tested for being
   empty or defined; no filter, comparison, slice or macro may touch them.
2. Only values made of letters, digits, single spaces and URL characters are filled in: none
   of those is changed by HTML escaping or by the CSS inliner's serializer. Anything else
   (an apostrophe in a name) is rendered the normal way.
3. The first message of each kind, and every hundredth after it, is also rendered the normal
   way and compared; any difference turns this off for the composer, with a warning.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable

from jinja2 import nodes

log = logging.getLogger(__name__)

CONTACT_FIELDS = ("name", "first_name", "email")
CHECK_EVERY = 100  # every Nth filled message is also rendered in full and compared
SAFE_VALUE = re.compile(r"[\w.@+\-/:?=%~,]+(?: [\w.@+\-/:?=%~,]+)*")
MARK = re.compile(r"(ZQX\d+XQZ)")

Rendered = tuple[str, str, str]  # subject, text, HTML (CSS inlined)
CONSTANT = ("meeting", "sender")  # the same for every message of one composer and language


def personal_names(context: dict[str, Any]) -> list[str]:
    """The context's values that differ per recipient, as template expressions."""
    return [f"contact.{f}" for f in CONTACT_FIELDS] + sorted(k for k in context if k.endswith("_url"))


def only_printed(env, template_names: list[str], personal: set[str], lang: str) -> bool:
    """True when every use of a personal value (or the subject, made from them) in these
    templates and all they pull in is printing it as it is, or testing it (truthy, defined)."""
    roots = {p.split(".")[0] for p in personal} | {"subject"}
    seen, todo = set(), list(template_names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            tree = env.parse(env.loader.get_source(env, name)[0])
        except Exception:  # a template error is reported by the normal path
            return False
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
            referenced = _template_name(node.template, lang)
            if referenced is None:  # a name computed from anything but `lang`: cannot follow it
                return False
            todo.append(referenced)
        if not _clean(tree, [], roots, personal):
            return False
    return True


def _template_name(node, lang: str) -> str | None:
    """A template name written as a string, or as `lang ~ "/footer.html"`, for this language."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    if isinstance(node, nodes.Name) and node.name == "lang" and node.ctx == "load":
        return lang
    if isinstance(node, nodes.Concat):
        parts = [_template_name(n, lang) for n in node.nodes]
        return None if None in parts else "".join(parts)  # type: ignore[arg-type]
    return None


def _clean(node, ancestors: list, roots: set[str], personal: set[str]) -> bool:
    if isinstance(node, nodes.Name) and node.name in roots:
        if node.ctx != "load":
            return False
        used, chain = node, ancestors
        if node.name == "contact":  # only contact.<field>, never contact itself
            if not chain or not isinstance(chain[-1], nodes.Getattr) or chain[-1].node is not node \
                    or f"contact.{chain[-1].attr}" not in personal:
                return False
            used, chain = chain[-1], chain[:-1]
        parent = chain[-1] if chain else None
        printed = isinstance(parent, nodes.Output) and any(n is used for n in parent.nodes)
        tested = isinstance(parent, nodes.If) and parent.test is used
        defined = isinstance(parent, nodes.Test) and parent.name == "defined" and parent.node is used
        return printed or tested or defined
    return all(_clean(child, [*ancestors, node], roots, personal) for child in node.iter_child_nodes())


class Prerender:
    """One template's renders with placeholders, per kind of recipient."""

    def __init__(self, render: Callable[[dict[str, Any]], Rendered | None], personal: list[str]):
        # The normal render of a context, before the last touches finish() makes: the subject
        # block and the text as Jinja wrote them, the HTML finished; None for an empty subject.
        self.render = render
        self.personal = personal
        self.kinds: dict[tuple, tuple[list, list, list] | None] = {}
        self.filled = 0
        self.on = True

    def __call__(self, context: dict[str, Any]) -> Rendered | None:
        """The message's subject, text and HTML; None when this message needs the normal render."""
        values = [_value(context, p) for p in self.personal]
        if not self.on or not all(v == "" or SAFE_VALUE.fullmatch(v) for v in values):
            return None
        varying = {k: v for k, v in context.items() if k not in CONSTANT and k != "contact" and not k.endswith("_url")}
        kind = (tuple(bool(v) for v in values), json.dumps(varying, sort_keys=True, default=repr))
        if kind not in self.kinds:
            self.kinds[kind] = self._kind(context, values)
            return self._checked(context, values, kind)
        self.filled += 1
        if self.filled % CHECK_EVERY == 0:
            return self._checked(context, values, kind)
        return self._fill(kind, values)

    def _kind(self, context: dict[str, Any], values: list[str]) -> tuple[list, list, list] | None:
        marked = dict(context, contact=dict(context["contact"]))
        for index, (path, value) in enumerate(zip(self.personal, values)):
            mark = f"ZQX{index}XQZ" if value else ""
            if path.startswith("contact."):
                marked["contact"][path.removeprefix("contact.")] = mark
            else:
                marked[path] = mark
        rendered = self.render(marked)
        if rendered is None:
            return None
        return tuple(MARK.split(part) for part in rendered)  # type: ignore[return-value]

    def _fill(self, kind: tuple, values: list[str]) -> Rendered | None:
        pieces = self.kinds[kind]
        if pieces is None:
            return None
        return finish(*("".join(values[int(p[3:-3])] if i % 2 else p for i, p in enumerate(part))
                        for part in pieces))

    def _checked(self, context: dict[str, Any], values: list[str], kind: tuple) -> Rendered | None:
        raw = self.render(context)
        full = finish(*raw) if raw is not None else None
        if full is not None and self._fill(kind, values) != full:
            log.warning("template prerendering off: a filled message differed from its full render")
            self.on = False
        return full


def finish(subject: str, text: str, html: str) -> Rendered:
    """What EmailTemplates.render makes of the subject block and the text."""
    return " ".join(subject.split()), text.strip() + "\n", html


def _value(context: dict[str, Any], path: str) -> str:
    if path.startswith("contact."):
        return str(context["contact"].get(path.removeprefix("contact."), "") or "")
    return str(context.get(path) or "")
