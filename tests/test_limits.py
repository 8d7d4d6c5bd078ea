"""Limits: a template that renders too much, or a subject longer than a header line, is refused at
preview and at save with a message naming the file; an upload over `max_upload_mb` is refused before
its body is read (a 2 GB upload included); nothing is half-written."""

from __future__ import annotations

import http.client
import urllib.parse

import pytest
from helpers import Browser
from sqlalchemy import func, select
from staff_helpers import PASSWORD, STAFF_EMAIL, post, text

from mailer.audit.models import AuditEntry
from mailer.mail.templates import MAX_SUBJECT_CHARS, EmailTemplates, TemplateProblem
from mailer.staff import template_editor


def _with_subject(folder, subject_expression: str) -> str:
    original = (folder / "sv" / "invitation.txt").read_text(encoding="utf-8")
    start, end = original.index("{% block subject %}"), original.index("{% endblock %}")
    return original[:start] + "{% block subject %}" + subject_expression + original[end:]


def test_a_subject_over_998_characters_is_refused_at_preview_and_save(db, staff_client, editable):
    too_long = _with_subject(editable, "{{ 'x' * 999 }}")
    reply = post(staff_client, "/staff/templates/sv/invitation.txt/preview.json", {"text": too_long})
    assert reply.json["ok"] is False
    assert "ämnesraden blir 999 tecken lång; högst 998 tecken" in reply.json["problem"]
    saved = post(staff_client, "/staff/templates/sv/invitation.txt", {"text": too_long, "action": "save"})
    assert saved.status_code == 422 and "sv/invitation.txt: ämnesraden blir 999 tecken" in text(saved)
    assert "x" * 999 not in (editable / "sv" / "invitation.txt").read_text(encoding="utf-8")
    fits = _with_subject(editable, "{{ 'x' * " + str(MAX_SUBJECT_CHARS) + " }}")
    assert post(staff_client, "/staff/templates/sv/invitation.txt/preview.json", {"text": fits}).json["ok"]


def test_a_template_that_renders_100_mb_is_refused_without_building_it(db, staff_client, editable):
    original = (editable / "sv" / "invitation.txt").read_text(encoding="utf-8")
    huge = original.replace(
        "{% block content -%}", "{% block content -%}{% for n in range(100000) %}" + "x" * 1000 + "{% endfor %}", 1
    )
    assert huge != original
    reply = post(staff_client, "/staff/templates/sv/invitation.txt/preview.json", {"text": huge})
    assert reply.json["ok"] is False and "större än 10 MB (inställningen max_message_bytes)" in reply.json["problem"]
    saved = post(staff_client, "/staff/templates/sv/invitation.txt", {"text": huge, "action": "save"})
    assert saved.status_code == 422 and "större än 10 MB" in text(saved)
    assert "range(100000)" not in (editable / "sv" / "invitation.txt").read_text(encoding="utf-8")
    with db.reading() as session:  # nothing recorded as saved
        assert (
            session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action != "staff.login")) == 0
        )


def test_the_message_limit_is_the_max_message_bytes_setting(settings):
    with pytest.raises(TemplateProblem) as raised:
        EmailTemplates(None, max_message_bytes=2_000).render("invitation", "sv", _sample(settings))
    assert raised.value.code == "too_large" and "max_message_bytes" in str(raised.value)
    assert EmailTemplates(None, max_message_bytes=100_000).render("invitation", "sv", _sample(settings)).subject


def _sample(settings) -> dict:
    from mailer.mail.compose import made_up_contact
    from mailer.mail.context import recipient_context

    return recipient_context(
        settings, made_up_contact("sv"), template_editor.sample_meeting(settings), ["Exempelförbundet"], True, None
    )


def test_a_2_gb_upload_is_refused_before_its_body_is_read(db, staff, live_server, instance_path):
    """On a real server: the answer comes after the first megabyte, naming the limit; nothing is stored."""
    client = Browser(live_server.base, timeout=300)
    assert client.log_in(STAFF_EMAIL, PASSWORD) == 303
    token = client.open_form("/staff/upload")
    parts = urllib.parse.urlsplit(live_server.base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", "/staff/upload")
        connection.putheader("Content-Type", "multipart/form-data; boundary=xyz")
        connection.putheader("Content-Length", str(2 * 1024**3))
        connection.putheader("Cookie", client.cookie_header())
        connection.endheaders()
        head = (
            f'--xyz\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            '--xyz\r\nContent-Disposition: form-data; name="file"; filename="stor.csv"\r\n\r\nemail\n'
        )
        try:
            connection.send(head.encode() + b"a@example.org\n" * 70_000)  # about a megabyte, then wait
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may already have answered and closed
        reply = connection.getresponse()
        page = reply.read().decode()
    finally:
        connection.close()
    assert reply.status == 413 and "högst 50 MB" in page
    assert not (instance_path / "uploads").exists() or not list((instance_path / "uploads").iterdir())
