"""The /api/v1 endpoints: each checks the role, then calls one function of mailer.api."""

from __future__ import annotations

from flask import jsonify

from mailer.api import answers, campaigns, contacts, imports, meetings, organisations
from mailer.api.schemas import openapi
from mailer.staff.roles import ADMIN, STAFF, VIEWER
from mailer.web.api import body, bp, context, needs, paging


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of this API (no token needed: it holds no data)."""
    from importlib.metadata import version

    return jsonify(openapi(version("mailer")))


# -- organisations --------------------------------------------------------------------------

@bp.get("/organisations")
@needs(VIEWER)
def organisation_list():
    return organisations.list_organisations(context(), paging()[0])


@bp.post("/organisations")
@needs(STAFF)
def organisation_create():
    return organisations.create_organisation(context(), body()), 201


@bp.get("/organisations/<slug>")
@needs(VIEWER)
def organisation_read(slug: str):
    return organisations.get_organisation(context(), slug)


@bp.patch("/organisations/<slug>")
@needs(STAFF)
def organisation_update(slug: str):
    return organisations.update_organisation(context(), slug, body())


# -- contacts and memberships -----------------------------------------------------------------

@bp.get("/contacts")
@needs(VIEWER)
def contact_list():
    page, filters = paging("organisation")
    return contacts.list_contacts(context(), page, filters["organisation"])


@bp.post("/contacts")
@needs(STAFF)
def contact_create():
    return contacts.create_contact(context(), body()), 201


@bp.get("/contacts/<int:contact_id>")
@needs(VIEWER)
def contact_read(contact_id: int):
    return contacts.get_contact(context(), contact_id)


@bp.patch("/contacts/<int:contact_id>")
@needs(STAFF)
def contact_update(contact_id: int):
    return contacts.update_contact(context(), contact_id, body())


@bp.put("/contacts/<int:contact_id>/memberships/<organisation>")
@needs(STAFF)
def membership_put(contact_id: int, organisation: str):
    contact, added = contacts.put_membership(context(), contact_id, organisation, body())
    return contact, 201 if added else 200


@bp.get("/contacts/<int:contact_id>/export")
@needs(ADMIN)
def contact_export(contact_id: int):
    return contacts.export_contact(context(), contact_id)


@bp.post("/contacts/<int:contact_id>/erase")
@needs(ADMIN)
def contact_erase(contact_id: int):
    return contacts.erase_contact(context(), contact_id)


# -- list imports -----------------------------------------------------------------------------

@bp.post("/imports")
@needs(STAFF)
def import_start():
    return imports.start_import(context(), body())


@bp.post("/imports/<import_id>/preview")
@needs(STAFF)
def import_preview(import_id: str):
    return imports.preview_import(context(), import_id, body())


@bp.post("/imports/<import_id>/apply")
@needs(STAFF)
def import_apply(import_id: str):
    return imports.apply_import(context(), import_id, body())


# -- meetings and series ------------------------------------------------------------------------

@bp.get("/meetings")
@needs(VIEWER)
def meeting_list():
    return meetings.list_meetings(context(), paging()[0])


@bp.post("/meetings")
@needs(STAFF)
def meeting_create():
    return meetings.create_meeting(context(), body()), 201


@bp.get("/meetings/<slug>")
@needs(VIEWER)
def meeting_read(slug: str):
    return meetings.get_meeting(context(), slug)


@bp.patch("/meetings/<slug>")
@needs(STAFF)
def meeting_update(slug: str):
    return meetings.update_meeting(context(), slug, body())


@bp.get("/series")
@needs(VIEWER)
def series_list():
    return meetings.list_series(context(), paging()[0])


@bp.get("/series/<slug>")
@needs(VIEWER)
def series_read(slug: str):
    return meetings.get_series(context(), slug)


# -- campaigns ------------------------------------------------------------------------------------

@bp.get("/campaigns")
@needs(VIEWER)
def campaign_list():
    return campaigns.list_campaigns(context(), paging()[0])


@bp.post("/campaigns")
@needs(STAFF)
def campaign_create():
    return campaigns.create_campaign(context(), body()), 201


@bp.get("/campaigns/<int:campaign_id>")
@needs(VIEWER)
def campaign_read(campaign_id: int):
    return campaigns.get_campaign(context(), campaign_id)


@bp.post("/campaigns/<int:campaign_id>/schedule")
@needs(STAFF)
def campaign_schedule(campaign_id: int):
    return campaigns.schedule_campaign(context(), campaign_id, body())


@bp.post("/campaigns/<int:campaign_id>/start")
@needs(STAFF)
def campaign_start(campaign_id: int):
    return campaigns.start_campaign(context(), campaign_id)


@bp.post("/campaigns/<int:campaign_id>/cancel")
@needs(STAFF)
def campaign_cancel(campaign_id: int):
    return campaigns.cancel_campaign(context(), campaign_id)


# -- answers and attendance -----------------------------------------------------------------------

@bp.get("/answers")
@needs(VIEWER)
def answer_list():
    page, filters = paging("meeting", "organisation", "since")
    return answers.list_answers(context(), page, **filters)


@bp.get("/attendance")
@needs(VIEWER)
def attendance_list():
    page, filters = paging("meeting", "organisation", "since")
    return answers.list_attendance(context(), page, **filters)
