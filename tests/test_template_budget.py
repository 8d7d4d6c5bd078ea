"""A template is bounded in work, not only in output: loops that print nothing, operators and filters
that make huge values from small numbers, and bodies that are slow without printing are refused at
preview and save with a message naming the file and line, long before they could hold a web thread
(and with it, through the GIL, recipients' pages) for minutes."""

from __future__ import annotations

import time

import pytest
from staff_helpers import post, text

from mailer.config import LANGUAGES
from mailer.mail.sandbox import MAX_LOOP_ITEMS, MAX_RENDER_SECONDS
from mailer.mail.templates import EmailTemplates, TemplateProblem
from mailer.staff import template_editor

PREVIEW = "/staff/templates/sv/invitation.txt/preview.json"
NESTED_RANGES = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"


def _with_content(folder, extra: str, name: str = "sv/invitation.txt") -> str:
    """The file's text with `extra` at the start of its content block."""
    original = (folder / name).read_text(encoding="utf-8")
    edited = original.replace("{% block content -%}", "{% block content -%}" + extra, 1)
    assert edited != original
    return edited


def _sample(settings) -> dict:
    from mailer.mail.compose import made_up_contact
    from mailer.mail.context import recipient_context

    return recipient_context(
        settings, made_up_contact("sv"), template_editor.sample_meeting(settings), ["Exempelförbundet"], True, None
    )


def _line_of(edited: str, extra: str) -> int:
    return edited[: edited.index(extra)].count("\n") + 1


def _refused_preview(staff_client, editable, extra: str) -> tuple[str, int, float]:
    """Preview the invitation with `extra` in it: the refusal's text, the line of `extra`, and the seconds taken."""
    edited = _with_content(editable, extra)
    started = time.monotonic()
    reply = post(staff_client, PREVIEW, {"text": edited})
    took = time.monotonic() - started
    assert reply.json["ok"] is False
    return reply.json["problem"], _line_of(edited, extra), took


def test_nested_ranges_that_print_nothing_are_refused_at_preview_and_save_quickly(db, staff_client, editable):
    """The tester's template: 10^10 empty rounds, which held a server for minutes."""
    problem, line, took = _refused_preview(staff_client, editable, NESTED_RANGES)
    assert problem == (
        f"sv/invitation.txt:{line}: mallen gör för mycket arbete: dess slingor och "
        f"range() går sammanlagt över {MAX_LOOP_ITEMS} varv. Ett utskick går igenom några frågor eller träffar; "
        "förenkla slingorna."
    )
    assert took < MAX_RENDER_SECONDS  # stopped by the count, not by the clock (that would say so)
    started = time.monotonic()
    edited = _with_content(editable, NESTED_RANGES)
    saved = post(staff_client, "/staff/templates/sv/invitation.txt", {"text": edited, "action": "save"})
    assert time.monotonic() - started < MAX_RENDER_SECONDS
    assert saved.status_code == 422 and "mallen gör för mycket arbete" in text(saved)
    assert "range(100000)" not in (editable / "sv" / "invitation.txt").read_text(encoding="utf-8")


def test_a_loop_without_range_is_counted_too(db, staff_client, editable):
    """Three loops over a 1,000-character string: a billion rounds, no range() in sight."""
    loops = (
        "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% for c in s %}{% endfor %}{% endfor %}{% endfor %}"
    )
    problem, _, _ = _refused_preview(staff_client, editable, loops)
    assert "mallen gör för mycket arbete" in problem


def test_the_budget_is_shared_by_every_template_of_one_render_and_renewed_for_the_next(settings, editable):
    """600,000 rounds in base.txt and 600,000 in sv/invitation.txt: each fits alone, not both in one render."""
    loop = "{% for i in range(6) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    base, invitation = editable / "base.txt", editable / "sv" / "invitation.txt"
    base_text, invitation_text = base.read_text(encoding="utf-8"), invitation.read_text(encoding="utf-8")

    def render():
        return EmailTemplates(editable, settings.max_message_bytes).render("invitation", "sv", _sample(settings))

    base.write_text(loop + base_text, encoding="utf-8")
    templates = EmailTemplates(editable, settings.max_message_bytes)
    assert templates.render("invitation", "sv", _sample(settings)).subject
    assert templates.render("invitation", "sv", _sample(settings)).subject  # a new render, a new budget

    base.write_text(base_text, encoding="utf-8")
    edited = _with_content(editable, loop)
    invitation.write_text(edited, encoding="utf-8")
    assert render().subject

    base.write_text(loop + base_text, encoding="utf-8")
    with pytest.raises(TemplateProblem) as refused:
        render()
    assert refused.value.code == "too_much_work"
    assert refused.value.render("en").startswith(
        f"sv/invitation.txt:{_line_of(edited, loop)}: the template does too much work"
    )
    invitation.write_text(invitation_text, encoding="utf-8")
    base.write_text(base_text, encoding="utf-8")


def test_a_costly_loop_that_prints_nothing_stops_at_the_deadline(db, staff_client, editable):
    """Each round builds a 9 MB string and drops it: few rounds, no output, but slow."""
    slow = "{% for i in range(100000) %}{% set x = 'x' * 9000000 %}{% endfor %}"
    problem, line, took = _refused_preview(staff_client, editable, slow)
    assert problem == (
        f"sv/invitation.txt:{line}: mallen tog mer än {MAX_RENDER_SECONDS:g} sekunder att "
        "fylla i och stoppades. Förenkla slingorna i den."
    )
    assert MAX_RENDER_SECONDS <= took < MAX_RENDER_SECONDS + 10


def test_string_multiplication_past_the_message_limit_is_refused_before_it_is_built(db, staff_client, editable):
    """Kept in a variable, never printed: the output limit alone would not see it."""
    huge = "{% set x = 'x' * 20000000 %}"
    problem, line, _ = _refused_preview(staff_client, editable, huge)
    assert problem == (f"sv/invitation.txt:{line}: '*' ger ett för stort värde (högst 10485760 tecken eller element).")
    edited = _with_content(editable, huge)
    saved = post(staff_client, "/staff/templates/sv/invitation.txt", {"text": edited, "action": "save"})
    assert saved.status_code == 422 and "'*' ger ett för stort värde" in text(saved)
    fits = _with_content(editable, "{{ '=' * 40 }}")
    assert "=" * 40 in post(staff_client, PREVIEW, {"text": fits}).json["text"]


HUGE_FROM_SMALL = [  # (expression, the code it is refused with; None: Jinja's own refusal)
    ("{{ [0] * 20000000 }}", "value_too_large"),
    ("{{ 10 ** 100000 }}", "number_too_large"),
    ("{{ 'x'|center(1000000000) }}", "value_too_large"),
    ("{{ 'x'|indent(1000000000) }}", "value_too_large"),
    ("{{ ('x' * 100000)|wordwrap(1) }}", "value_too_large"),
    ("{{ 'ab'|replace('', 'x' * 9000000) }}", "value_too_large"),
    ("{{ range(1000)|join('x' * 9000000) }}", "value_too_large"),
    ("{{ '%999999999d' % 1 }}", "value_too_large"),
    ("{{ '%s'|format(1) }}{{ '%999999999d'|format(1) }}", "value_too_large"),
    ("{{ '{:>999999999}'.format(1) }}", "value_too_large"),
    (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "value_too_large",
    ),
    ("{{ range(10**7)|list|length }}", "value_too_large"),
    ("{{ lipsum(100000) }}", "too_much_work"),
    ("{{ [1]|batch(1000000000, 0)|list|length }}", "too_much_work"),
    ("{{ 'x'.ljust(1000000000) }}", None),  # Jinja's own refusal of an unsafe attribute
    # Little output, much work inside whole-filter calls (found by a second walk-through):
    ('{{ ([("x" * 10000000)] * 1000)|map("upper")|map("length")|sum }}', "value_too_large"),
    ("{{ ([[0] * 1000] * 2000)|sum(start=[])|length }}", "sum_numbers"),
    ('{{ ("x " * 1000000)|urlize|length }}', "value_too_large"),
    ("{{ ([0] * 200000)|pprint|length }}", "value_too_large"),
]


def test_small_expressions_that_would_make_huge_values_are_refused_quickly(settings, editable):
    invitation = editable / "sv" / "invitation.txt"
    original = invitation.read_text(encoding="utf-8")
    for expression, code in HUGE_FROM_SMALL:
        invitation.write_text(_with_content(editable, expression), encoding="utf-8")
        templates = EmailTemplates(editable, settings.max_message_bytes)  # a new one: no cached file
        started = time.monotonic()
        with pytest.raises(TemplateProblem) as refused:
            templates.render("invitation", "sv", _sample(settings))
        assert time.monotonic() - started < MAX_RENDER_SECONDS, expression
        assert refused.value.template == "sv/invitation.txt" and refused.value.line, expression
        if code is None:
            assert "'ljust' of 'str' object is unsafe" in str(refused.value), expression
        else:
            assert refused.value.code == code, (expression, str(refused.value))
        invitation.write_text(original, encoding="utf-8")
        assert EmailTemplates(editable, settings.max_message_bytes).render("invitation", "sv", _sample(settings))


def test_every_shipped_template_still_renders_in_both_languages(db, settings):
    """The shipped templates, every sample branch, as a save checks them (loops, namespace, `*`, join)."""
    name = "sv/invitation.txt"
    with db.reading() as session:
        template_editor.check_all(session, settings, name, template_editor.read_template(settings, name))
    templates = EmailTemplates(None, settings.max_message_bytes)
    for template in ("invitation", "reminder"):
        for language in LANGUAGES:
            rendered = templates.render(template, language, _sample(settings))
            assert rendered.subject and rendered.text.strip() and "<html" in rendered.html
