"""Editing email templates in the browser: live preview, and a template with an error is never saved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from staff_helpers import STAFF_EMAIL, post, text

from mailer.audit.models import AuditEntry
from mailer.staff import template_editor

CHECKOUT = Path(__file__).resolve().parent.parent / "templates" / "email"


@pytest.fixture
def test_config(test_config, tmp_path):
    """Edits go to a copy: the checkout's own templates are never touched by a test."""
    folder = tmp_path / "templates" / "email"
    shutil.copytree(CHECKOUT, folder)
    return {**test_config, "templates_path": str(folder)}


@pytest.fixture
def folder(settings) -> Path:
    return settings.templates_path


def test_every_template_file_is_listed(staff_client):
    page = text(staff_client.get("/staff/templates"))
    for name in ("base.html", "base.txt", "sv/invitation.html", "en/reminder.txt", "sv/confirmation.txt"):
        assert name in page
    assert "Variabler står inom {{ }} och måste stavas exakt." in page


def test_the_editor_shows_the_saved_text_and_its_preview(staff_client, folder):
    page = staff_client.get("/staff/templates/sv/invitation.txt")
    words = text(page)
    assert "Förhandsvisningen visar: Inbjudan, Svenska, med exempeldata." in words
    assert "Inbjudan: Dialogträff med Region Exempel" in words  # the subject, with sample data
    assert (folder / "sv" / "invitation.txt").read_text(encoding="utf-8")[:40] in page.get_data(as_text=True)
    assert staff_client.get("/staff/templates/sv/nope.txt").status_code == 404
    assert staff_client.get("/staff/templates/../config.toml").status_code == 404


def test_live_preview_of_unsaved_text(staff_client, folder):
    original = (folder / "sv" / "invitation.txt").read_text(encoding="utf-8")
    edited = original.replace("Hej {{ contact.first_name }}!", "Hejsan {{ contact.first_name }}!", 1)
    reply = post(staff_client, "/staff/templates/sv/invitation.txt/preview.json", {"text": edited}).json
    assert reply["ok"] and "Hejsan Anna!" in reply["text"] and reply["subject"].startswith("Inbjudan: ")
    broken = edited.replace("{{ meeting.title }}", "{{ meeting.titel }}", 1)
    reply = post(staff_client, "/staff/templates/sv/invitation.txt/preview.json", {"text": broken}).json
    assert not reply["ok"] and reply["problem"].startswith("sv/invitation.txt:")
    assert "titel" in reply["problem"]
    assert (folder / "sv" / "invitation.txt").read_text(encoding="utf-8") == original  # nothing saved
    shared = post(
        staff_client,
        "/staff/templates/base.html/preview.json",
        {"text": (folder / "base.html").read_text(encoding="utf-8")},
    ).json
    assert shared["ok"] and "<html" in shared["html"]
    # Without scripts, the button renders the same preview in the page.
    page = post(staff_client, "/staff/templates/sv/invitation.txt", {"text": edited, "action": "preview"})
    assert "Hejsan Anna!" in text(page)


def test_a_template_with_an_error_cannot_be_saved(db, staff_client, folder):
    path = folder / "sv" / "reminder.html"
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines()
    last_block = max(i for i, line in enumerate(lines) if "{% endblock %}" in line)
    lines.insert(last_block, "<p>{{ meeting.plats }}</p>")  # a typo, inside the content block
    reply = post(staff_client, "/staff/templates/sv/reminder.html", {"text": "\n".join(lines), "action": "save"})
    assert reply.status_code == 422
    assert f"sv/reminder.html:{last_block + 1}:" in text(reply) and "plats" in text(reply)
    assert path.read_text(encoding="utf-8") == original
    syntax = post(
        staff_client,
        "/staff/templates/base.html",
        {"text": "{% if %}" + (folder / "base.html").read_text(encoding="utf-8"), "action": "save"},
    )
    assert syntax.status_code == 422 and "base.html:1:" in text(syntax)
    # An error that only shows in the other language, or in another branch, is caught too.
    footer = (folder / "en" / "footer.txt").read_text(encoding="utf-8")
    reply = post(
        staff_client,
        "/staff/templates/en/footer.txt",
        {"text": footer + "{% if first_message %}{{ oops }}{% endif %}", "action": "save"},
    )
    assert reply.status_code == 422 and "en/footer.txt" in text(reply)
    with db.transaction() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action != "staff.login")) is None


def test_saving_writes_the_file_and_the_next_mail_uses_it(app, db, staff_client, folder, settings):
    path = folder / "sv" / "invitation.txt"
    edited = path.read_text(encoding="utf-8").replace(
        "Hej {{ contact.first_name }}!", "Hej {{ contact.first_name }}, välkommen!", 1
    )
    live = app.extensions["mailer.templates"]
    live.render("invitation", "sv", _context(settings))  # cached before the edit
    reply = post(
        staff_client,
        "/staff/templates/sv/invitation.txt",
        {"text": edited.replace("\n", "\r\n"), "action": "save"},
        follow_redirects=True,
    )
    assert "sv/invitation.txt är sparad." in text(reply)
    assert path.read_text(encoding="utf-8") == edited  # browsers send CRLF; the file keeps LF
    assert "Hej Anna, välkommen!" in live.render("invitation", "sv", _context(settings)).text
    with db.transaction() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action != "staff.login"))
    assert (entry.actor, entry.action, entry.target) == (STAFF_EMAIL, "templates.save", "template:sv/invitation.txt")


def test_without_a_folder_for_edits_templates_are_read_only(db, settings):
    packaged = settings.with_overrides(templates_path=None)
    assert "sv/invitation.txt" in template_editor.template_files(packaged)
    with pytest.raises(template_editor.NotEditable):
        template_editor.save_template(db, packaged, None, "x", "sv/invitation.txt", "text")


def _context(settings) -> dict:
    from mailer.mail.compose import made_up_contact
    from mailer.mail.context import recipient_context

    return recipient_context(
        settings, made_up_contact("sv"), template_editor.sample_meeting(settings), ["Exempelförbundet"], True
    )
