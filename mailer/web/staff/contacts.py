"""Organisations and contacts: lists, search, uploading a list, editing, (un)subscribing, erasing.

An uploaded list is checked first with the importer's own dry run (same rules
and the same per-row report as `mailer contacts import`) and imported only
when staff confirm; the bytes wait on the server in the meantime.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from mailer.contacts.csvfile import FIELDS, IGNORE, Choices
from mailer.contacts.editing import ContactError, get_contact
from mailer.contacts.queries import list_organisations
from mailer.contacts.subscriptions import suppression_of
from mailer.regions import region_names
from mailer.staff import contact_actions, uploads
from mailer.staff.directory import directory, organisation_page
from mailer.staff.roles import ADMIN, STAFF, VIEWER
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff

bp = Blueprint("contacts", __name__)
EDITABLE = ("name", "language", "region", "phone")


def _folder():
    return settings().instance_path / "uploads"


def _not_found():
    return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")


@bp.get("/organisations")
@requires(VIEWER)
def index():
    query = request.args.get("q", "").strip()
    with db().reading() as session:
        data = directory(session, query)
        return page(
            "organisations.html",
            organisations=data.organisations,
            query=query,
            found=data.found,
            suppressed=data.suppressed,
        )


@bp.get("/organisations/<slug>")
@requires(VIEWER)
def organisation(slug: str):
    with db().reading() as session:
        try:
            data = organisation_page(session, slug)
        except LookupError:
            return _not_found()
        return page(
            "organisation.html",
            org=data.organisation,
            people=data.people,
            suppressed=data.suppressed,
            regions=region_names(),
            values=None,
            error=None,
        )


ORGANISATION_FIELDS = ("name", "short_name", "region", "contact_email")


@bp.post("/organisations/<slug>")
@requires(STAFF)
def edit_organisation(slug: str):
    """Correct the organisation's name (e.g. uploaded without accents), short name, region or address."""
    values = {field: request.form.get(field, "") for field in ORGANISATION_FIELDS}
    with db().transaction() as session:
        try:
            with session.begin_nested():
                contact_actions.edit_organisation(session, signed_in_staff().actor, slug, **values)
        except LookupError:
            return _not_found()
        except ContactError as exc:
            data = organisation_page(session, slug)
            return page(
                "organisation.html",
                422,
                org=data.organisation,
                people=data.people,
                suppressed=data.suppressed,
                regions=region_names(),
                values=values,
                error=exc.field,
            )
    flash_translated("organisation_saved")
    return redirect(url_for(".organisation", slug=slug), code=303)


@bp.get("/upload")
@requires(STAFF)
def upload_form():
    with db().reading() as session:
        organisations = list_organisations(session)
    return page("upload.html", organisations=organisations, chosen=request.args.get("org", ""))


@bp.post("/upload")
@requires(STAFF)
def upload():
    file = request.files.get("file")
    org = (request.form.get("new_org", "").strip().lower() or request.form.get("org", "")).strip()
    with db().reading() as session:
        organisations = list_organisations(session)
    if file is None or not file.filename or not org:
        return page(
            "upload.html",
            422,
            organisations=organisations,
            chosen=org,
            error="upload_missing_file" if not (file and file.filename) else "upload_missing_org",
        )
    token = uploads.keep(_folder(), file.read())
    name = contact_actions.upload_name(file.filename)
    with db().reading() as session:  # a dry run: reads only, never holds the write lock
        report = contact_actions.check_upload(
            session, _folder(), token, name, org, max_bytes=settings().max_upload_bytes
        )
    if report.files[0].error:
        uploads.discard(_folder(), token)
    return _report_page(report.files[0], token, name, org, Choices(), confirmed=False)


def _report_page(report, token, name, org, choices: Choices, confirmed: bool, status: int = 200):
    return page(
        "upload_report.html",
        status,
        report=report,
        token=token,
        name=name,
        org=org,
        confirmed=confirmed,
        choices=choices.to_form(),
        regions=region_names(),
        fields=FIELDS,
        ignore=IGNORE,
    )


@bp.post("/upload/check")
@requires(STAFF)
def recheck_upload():
    """The same upload checked again with what staff chose for its unknown regions and columns."""
    token, name, org = (request.form.get(field, "") for field in ("token", "name", "org"))
    choices = Choices.from_form(request.form)
    try:
        with db().reading() as session:  # a dry run: reads only, never holds the write lock
            report = contact_actions.check_upload(
                session, _folder(), token, name, org, choices, settings().max_upload_bytes
            )
    except uploads.UploadGone:
        return page("message.html", 410, title_key="upload_gone_title", body_key="upload_gone_body")
    return _report_page(report.files[0], token, name, org, choices, confirmed=False)


@bp.post("/upload/confirm")
@requires(STAFF)
def confirm_upload():
    token, name, org = (request.form.get(field, "") for field in ("token", "name", "org"))
    choices = Choices.from_form(request.form)
    try:
        report = contact_actions.confirm_upload(
            db(), signed_in_staff().actor, _folder(), token, name, org, choices, settings().max_upload_bytes
        )
    except uploads.UploadGone:
        return page("message.html", 410, title_key="upload_gone_title", body_key="upload_gone_body")
    file = report.files[0]
    if file.blocking:  # nothing imported: still something to choose
        return _report_page(file, token, name, org, choices, confirmed=False, status=422)
    return _report_page(file, None, name, org, choices, confirmed=True)


def _contact_page(session, contact_id: int, values: dict | None = None, error: str | None = None, status: int = 200):
    contact = get_contact(session, contact_id)
    if values is None:
        values = {field: getattr(contact, field) or "" for field in EDITABLE}
        values |= {f"role:{membership.organisation.slug}": membership.role or "" for membership in contact.memberships}
    return page(
        "contact.html",
        status,
        contact=contact,
        values=values,
        error=error,
        suppression=suppression_of(session, contact.email),
        regions=region_names(),
    )


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
@requires(VIEWER, post=STAFF)
def contact(contact_id: int):
    with db().transaction() as session:
        try:
            if request.method != "POST":
                return _contact_page(session, contact_id)
            roles = {key[5:]: value for key, value in request.form.items() if key.startswith("role:")}
            try:
                with session.begin_nested():
                    contact_actions.edit_contact(
                        session,
                        signed_in_staff().actor,
                        contact_id,
                        roles=roles,
                        **{field: request.form.get(field, "") for field in EDITABLE},
                    )
            except ContactError as exc:
                return _contact_page(session, contact_id, request.form.to_dict(), exc.field, 422)
        except LookupError:
            return _not_found()
    flash_translated("contact_saved")
    return redirect(url_for(".contact", contact_id=contact_id), code=303)


@bp.post("/contacts/<int:contact_id>/subscription")
@requires(STAFF)
def subscription(contact_id: int):
    action = request.form.get("action")
    try:
        with db().transaction() as session:
            if action == "unsubscribe":
                contact_actions.unsubscribe_contact(session, signed_in_staff().actor, contact_id)
            elif action == "resubscribe":
                contact_actions.resubscribe_contact(session, signed_in_staff().actor, contact_id)
    except LookupError:
        return _not_found()
    if action in ("unsubscribe", "resubscribe"):
        flash_translated(f"contact_{action}d")
    return redirect(url_for(".contact", contact_id=contact_id), code=303)


@bp.route("/contacts/<int:contact_id>/erase", methods=["GET", "POST"])
@requires(ADMIN)
def erase(contact_id: int):
    try:
        if request.method != "POST":
            with db().reading() as session:
                return page("erase.html", contact=get_contact(session, contact_id))
        contact_actions.erase_contact(db(), settings(), signed_in_staff().actor, contact_id)
    except LookupError:
        return _not_found()
    flash_translated("contact_erased")
    return redirect(url_for(".index"), code=303)
