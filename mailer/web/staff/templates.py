"""The email templates: list, edit with a live preview, and save only what renders everywhere."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mailer.errors import render
from mailer.mail.templates import TemplateProblem
from mailer.staff import template_editor as editor
from mailer.staff.roles import STAFF, VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, templates, words

bp = Blueprint("templates", __name__)


@bp.get("/templates")
@requires(VIEWER)
def index():
    return page("templates.html", files=editor.template_files(settings()), folder=settings().templates_path)


def _editor(name: str, text: str, status: int = 200, problem: str | None = None):
    rendered = None
    if problem is None:
        with db().reading() as session:
            try:
                rendered = editor.preview(session, settings(), name, text)
            except TemplateProblem as exc:
                problem = render(exc, words().lang)
    return page(
        "template_edit.html",
        status,
        name=name,
        text=text,
        rendered=rendered,
        problem=problem,
        shown_as=editor.shown_as(name, settings()),
        writable=settings().templates_path is not None,
    )


@bp.route("/templates/<path:name>", methods=["GET", "POST"])
@requires(VIEWER, post=STAFF)
def edit(name: str):
    try:
        if request.method != "POST":
            return _editor(name, editor.read_template(settings(), name))
        text = request.form.get("text", "")
        if request.form.get("action") != "save":
            return _editor(name, text)
        editor.save_template(db(), settings(), templates(), signed_in_staff().actor, name, text)
    except TemplateProblem as exc:
        return _editor(name, text, 422, problem=render(exc, words().lang))
    except editor.NotEditable:
        return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
    flash_translated("template_saved", name=name)
    return redirect(url_for(".edit", name=name), code=303)


@bp.post("/templates/<path:name>/preview.json")
@requires(STAFF)
def live_preview(name: str):
    """For the editor's script: the unsaved text rendered, or the problem with its file and line."""
    try:
        with db().reading() as session:
            rendered = editor.preview(session, settings(), name, request.form.get("text", ""))
    except TemplateProblem as exc:
        return {"ok": False, "problem": render(exc, words().lang)}
    except editor.NotEditable:
        return {"ok": False, "problem": "not found"}, 404
    return {"ok": True, "subject": rendered.subject, "html": rendered.html, "text": rendered.text}
