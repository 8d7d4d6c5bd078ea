"""The /api/v1 endpoints, one line each: the role it needs, and the one function of mailer.api it calls.

Each call is given the request's context and, as it needs them, the URL's values, the JSON body
(`body()`) or the page and filters asked for (`listed`). The URLs, methods and roles are the
OpenAPI document's (mailer.api.schemas.OPERATIONS); a test checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import jsonify

from mailer.api import answers, campaigns, contacts, imports, meetings, organisations
from mailer.api.schemas import openapi
from mailer.staff.roles import ADMIN, STAFF, VIEWER
from mailer.web.api import body, bp, context, needs, paging

CREATED = 201


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of this API (no token needed: it holds no data)."""
    from importlib.metadata import version

    return jsonify(openapi(version("mailer")))


def endpoint(method: str, rule: str, role: str, name: str, call: Callable[..., Any]) -> None:
    """Register `call` (given the URL's values) at `rule` for `method`, behind the role check."""

    def view(**values: Any) -> Any:
        return call(**values)

    view.__name__ = name
    bp.add_url_rule(rule, name, needs(role)(view), methods=[method])


def listed(use_case: Callable[..., Any], *filters: str) -> Callable[[], Any]:
    """A list: the use case given the page asked for (cursor, limit) and the named filters."""

    def call() -> Any:
        page, values = paging(*filters)
        return use_case(context(), page, **values)

    return call


def _membership(contact_id: int, organisation: str) -> tuple[Any, int]:
    contact, added = contacts.put_membership(context(), contact_id, organisation, body())
    return contact, CREATED if added else 200


# -- organisations --------------------------------------------------------------------------
endpoint("GET", "/organisations", VIEWER, "organisation_list", listed(organisations.list_organisations))
endpoint(
    "POST",
    "/organisations",
    STAFF,
    "organisation_create",
    lambda: (organisations.create_organisation(context(), body()), CREATED),
)
endpoint(
    "GET",
    "/organisations/<slug>",
    VIEWER,
    "organisation_read",
    lambda slug: organisations.get_organisation(context(), slug),
)
endpoint(
    "PATCH",
    "/organisations/<slug>",
    STAFF,
    "organisation_update",
    lambda slug: organisations.update_organisation(context(), slug, body()),
)

# -- contacts and memberships -----------------------------------------------------------------
endpoint("GET", "/contacts", VIEWER, "contact_list", listed(contacts.list_contacts, "organisation"))
endpoint("POST", "/contacts", STAFF, "contact_create", lambda: (contacts.create_contact(context(), body()), CREATED))
endpoint(
    "GET",
    "/contacts/<int:contact_id>",
    VIEWER,
    "contact_read",
    lambda contact_id: contacts.get_contact(context(), contact_id),
)
endpoint(
    "PATCH",
    "/contacts/<int:contact_id>",
    STAFF,
    "contact_update",
    lambda contact_id: contacts.update_contact(context(), contact_id, body()),
)
endpoint("PUT", "/contacts/<int:contact_id>/memberships/<organisation>", STAFF, "membership_put", _membership)
endpoint(
    "GET",
    "/contacts/<int:contact_id>/export",
    ADMIN,
    "contact_export",
    lambda contact_id: contacts.export_contact(context(), contact_id),
)
endpoint(
    "POST",
    "/contacts/<int:contact_id>/erase",
    ADMIN,
    "contact_erase",
    lambda contact_id: contacts.erase_contact(context(), contact_id),
)

# -- list imports -----------------------------------------------------------------------------
endpoint("POST", "/imports", STAFF, "import_start", lambda: imports.start_import(context(), body()))
endpoint(
    "POST",
    "/imports/<import_id>/preview",
    STAFF,
    "import_preview",
    lambda import_id: imports.preview_import(context(), import_id, body()),
)
endpoint(
    "POST",
    "/imports/<import_id>/apply",
    STAFF,
    "import_apply",
    lambda import_id: imports.apply_import(context(), import_id, body()),
)

# -- meetings and series ------------------------------------------------------------------------
endpoint("GET", "/meetings", VIEWER, "meeting_list", listed(meetings.list_meetings))
endpoint("POST", "/meetings", STAFF, "meeting_create", lambda: (meetings.create_meeting(context(), body()), CREATED))
endpoint("GET", "/meetings/<slug>", VIEWER, "meeting_read", lambda slug: meetings.get_meeting(context(), slug))
endpoint(
    "PATCH", "/meetings/<slug>", STAFF, "meeting_update", lambda slug: meetings.update_meeting(context(), slug, body())
)
endpoint("GET", "/series", VIEWER, "series_list", listed(meetings.list_series))
endpoint("GET", "/series/<slug>", VIEWER, "series_read", lambda slug: meetings.get_series(context(), slug))

# -- campaigns ------------------------------------------------------------------------------------
endpoint("GET", "/campaigns", VIEWER, "campaign_list", listed(campaigns.list_campaigns))
endpoint(
    "POST", "/campaigns", STAFF, "campaign_create", lambda: (campaigns.create_campaign(context(), body()), CREATED)
)
endpoint(
    "GET",
    "/campaigns/<int:campaign_id>",
    VIEWER,
    "campaign_read",
    lambda campaign_id: campaigns.get_campaign(context(), campaign_id),
)
endpoint(
    "POST",
    "/campaigns/<int:campaign_id>/schedule",
    STAFF,
    "campaign_schedule",
    lambda campaign_id: campaigns.schedule_campaign(context(), campaign_id, body()),
)
endpoint(
    "POST",
    "/campaigns/<int:campaign_id>/start",
    STAFF,
    "campaign_start",
    lambda campaign_id: campaigns.start_campaign(context(), campaign_id),
)
endpoint(
    "POST",
    "/campaigns/<int:campaign_id>/cancel",
    STAFF,
    "campaign_cancel",
    lambda campaign_id: campaigns.cancel_campaign(context(), campaign_id),
)

# -- answers and attendance -----------------------------------------------------------------------
endpoint("GET", "/answers", VIEWER, "answer_list", listed(answers.list_answers, "meeting", "organisation", "since"))
endpoint(
    "GET", "/attendance", VIEWER, "attendance_list", listed(answers.list_attendance, "meeting", "organisation", "since")
)
