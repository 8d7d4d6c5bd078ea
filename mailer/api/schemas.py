"""The API's shapes, once: request bodies checked by mailer.api.bodies, and the OpenAPI 3.1 document.

Request schemas are closed (`additionalProperties: false`): an unknown field is refused with
its name, so a typo in a client never passes silently. The document (`openapi()`) is served
at /api/v1/openapi.json, and the tests validate every response they get against it.
"""

from __future__ import annotations

from typing import Any

from mailer.mail.templates import CAMPAIGN_TEMPLATES

STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NULL_STR, NULL_INT = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
TIME = {"type": "string", "format": "date-time"}
NULL_TIME = {"type": ["string", "null"], "format": "date-time"}


def closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


# -- request bodies -------------------------------------------------------------------------

LOCAL_TIME = {"type": "string", "description": "YYYY-MM-DD HH:MM in the configured time zone (Europe/Stockholm)"}

ORGANISATION_FIELDS = {"name": STR, "short_name": NULL_STR, "region": NULL_STR, "contact_email": NULL_STR}
ORGANISATION_NEW = closed({"slug": STR, **ORGANISATION_FIELDS}, ("slug", "name"))
ORGANISATION_CHANGE = closed(ORGANISATION_FIELDS)

CONTACT_FIELDS = {
    "name": NULL_STR,
    "language": {"type": ["string", "null"], "enum": ["sv", "en", "", None]},
    "region": NULL_STR,
    "phone": NULL_STR,
}
MEMBERSHIP = closed({"role": NULL_STR})
CONTACT_NEW = closed(
    {
        "email": STR,
        **CONTACT_FIELDS,
        "memberships": {"type": "array", "items": closed({"organisation": STR, "role": NULL_STR}, ("organisation",))},
    },
    ("email",),
)
CONTACT_CHANGE = closed(CONTACT_FIELDS)

CHOICES = closed(
    {name: {"type": "object", "additionalProperties": STR} for name in ("columns", "regions", "names", "regions_shown")}
)
IMPORT_NEW = closed(
    {
        "organisation": STR,
        "filename": STR,
        "csv": {"type": "string", "description": "the list, as CSV text"},
        "choices": CHOICES,
    },
    ("organisation", "csv"),
)
IMPORT_CHOICES = closed({"choices": CHOICES})

MEETING_FIELDS = {
    "title": STR,
    "region": STR,
    "city": STR,
    "starts": LOCAL_TIME,
    "ends": {**LOCAL_TIME, "type": ["string", "null"]},
    "host": NULL_STR,
    "venue": NULL_STR,
    "capacity": NULL_INT,
    "max_guests": INT,
    "rsvp_by": {"type": ["string", "null"], "description": "YYYY-MM-DD"},
    "description": NULL_STR,
}
MEETING_NEW = closed({"slug": STR, **MEETING_FIELDS}, ("slug", "title", "region", "city", "starts"))
MEETING_CHANGE = closed(
    {
        **MEETING_FIELDS,
        "notify": {**BOOL, "description": "mail those who come about a new time or place (default true)"},
    }
)

STRINGS = {"type": "array", "items": STR}
AUDIENCE = closed(
    {
        "orgs": STRINGS,
        "regions": STRINGS,
        "roles": STRINGS,
        "all": BOOL,
        "only_unanswered": BOOL,
        "only_yes": BOOL,
        "include_answered": BOOL,
    }
)
CAMPAIGN_NEW = closed(
    {
        "meeting": STR,
        "template": {"type": "string", "enum": list(CAMPAIGN_TEMPLATES)},
        "audience": AUDIENCE,
        "send_at": {**LOCAL_TIME, "type": ["string", "null"]},
        "note": NULL_STR,
    },
    ("meeting", "template", "audience"),
)
CAMPAIGN_SCHEDULE = closed({"send_at": LOCAL_TIME}, ("send_at",))


# -- responses ------------------------------------------------------------------------------


def shape(properties: dict[str, Any]) -> dict[str, Any]:
    """A response object: every property always present (null when there is none)."""
    return {"type": "object", "properties": properties, "required": list(properties)}


PROBLEM = shape(
    {"line": INT, "code": NULL_STR, "message": STR, "value": NULL_STR, "choice": NULL_STR, "suggestion": NULL_STR}
)
# One answer to a meeting's own question (mailer.rsvp.questions.described_answers): text, an
# option's Swedish text, a list of them (several choices), or "yes"/"no".
QUESTION_ANSWER = {
    "type": "object",
    "required": ["question", "label_sv", "label_en", "kind", "value"],
    "properties": {
        "question": STR,
        "label_sv": STR,
        "label_en": STR,
        "kind": {"enum": ["text", "choice", "multi", "yesno"]},
        "value": {"type": ["string", "array"], "items": STR},
    },
}
PERSON = {
    "type": ["object", "null"],
    "properties": {"id": INT, "email": STR, "name": NULL_STR, "organisations": STRINGS},
    "required": ["id", "email", "name", "organisations"],
}

RESPONSES: dict[str, dict[str, Any]] = {
    "Error": shape({"error": shape({"code": STR, "message": STR, "field": NULL_STR})}),
    "Organisation": shape(
        {
            "slug": STR,
            "name": STR,
            "short_name": NULL_STR,
            "region": NULL_STR,
            "contact_email": NULL_STR,
            "contacts": INT,
            "created_at": TIME,
        }
    ),
    "Membership": shape(
        {"organisation": STR, "role": NULL_STR, "name": NULL_STR, "title": NULL_STR, "region": NULL_STR}
    ),
    "Contact": shape(
        {
            "id": INT,
            "email": STR,
            "name": NULL_STR,
            "language": NULL_STR,
            "region": NULL_STR,
            "phone": NULL_STR,
            "suppressed": {"type": ["string", "null"], "enum": ["unsubscribed", "bounced", "erased", None]},
            "memberships": {"type": "array", "items": ref("Membership")},
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Export": {
        "type": "object",
        "required": ["contact"],
        "description": "every row held about the person, by table (GDPR Art. 15)",
    },
    "Erased": shape({"id": INT, "erased": BOOL}),
    "Import": shape(
        {
            "id": NULL_STR,
            "applied": BOOL,
            "report": shape(
                {
                    "organisation": NULL_STR,
                    "error": {"type": ["object", "null"], "properties": {"code": NULL_STR, "message": STR}},
                    "rows": INT,
                    "imported": INT,
                    "updated": INT,
                    "unchanged": INT,
                    "removed": INT,
                    "suppressed": INT,
                    "erased": INT,
                    "rejected": {"type": "array", "items": PROBLEM},
                    "warnings": {"type": "array", "items": PROBLEM},
                    "blocking": {"type": "array", "items": PROBLEM},
                    "disagreements": {"type": "array", "items": {"type": "object"}},
                }
            ),
        }
    ),
    "Meeting": shape(
        {
            "slug": STR,
            "title": STR,
            "region": STR,
            "city": STR,
            "host": NULL_STR,
            "venue": NULL_STR,
            "starts": STR,
            "ends": STR,
            "starts_at": TIME,
            "ends_at": TIME,
            "capacity": NULL_INT,
            "max_guests": INT,
            "rsvp_by": NULL_STR,
            "description": NULL_STR,
            "cancelled": BOOL,
            "series": NULL_STR,
        }
    ),
    "Series": shape(
        {
            "slug": STR,
            "title": STR,
            "description": NULL_STR,
            "choice": {"enum": ["one", "several"]},
            "sessions": {"type": "array", "items": ref("Meeting")},
        }
    ),
    "Campaign": {
        "type": "object",
        "required": ["id", "meeting", "template", "state", "recipients"],
        "properties": {
            "id": INT,
            "meeting": STR,
            "template": STR,
            "state": {"enum": ["draft", "scheduled", "running", "paused", "finished", "cancelled", "missed"]},
            "send_at": NULL_TIME,
            "audience": STR,
            "recipients": INT,
            "queued": INT,
            "sent": INT,
            "failed": INT,
            "note": NULL_STR,
            "created_at": TIME,
            "started_at": NULL_TIME,
            "finished_at": NULL_TIME,
        },
    },
    "Answer": shape(
        {
            "id": INT,
            "meeting": STR,
            "contact": PERSON,
            "answer": {"enum": ["yes", "no"]},
            "waitlisted": BOOL,
            "guests": INT,
            "answers": {"type": "array", "items": QUESTION_ANSWER},
            "comment": NULL_STR,
            "created_at": TIME,
            "updated_at": TIME,
        }
    ),
    "Attendance": shape(
        {
            "id": INT,
            "meeting": STR,
            "contact": PERSON,
            "name": NULL_STR,
            "organisation_name": NULL_STR,
            "walk_in": BOOL,
            "checked_in_at": TIME,
        }
    ),
}
LISTED = ("Organisation", "Contact", "Meeting", "Series", "Campaign", "Answer", "Attendance")
for _name in LISTED:
    RESPONSES[f"{_name}Page"] = shape({"items": {"type": "array", "items": ref(_name)}, "next_cursor": NULL_STR})

BODIES: dict[str, dict[str, Any]] = {
    "OrganisationNew": ORGANISATION_NEW,
    "OrganisationChange": ORGANISATION_CHANGE,
    "ContactNew": CONTACT_NEW,
    "ContactChange": CONTACT_CHANGE,
    "MembershipChange": MEMBERSHIP,
    "ImportNew": IMPORT_NEW,
    "ImportChoices": IMPORT_CHOICES,
    "MeetingNew": MEETING_NEW,
    "MeetingChange": MEETING_CHANGE,
    "CampaignNew": CAMPAIGN_NEW,
    "CampaignSchedule": CAMPAIGN_SCHEDULE,
}

# -- the operations -----------------------------------------------------------------------------

PAGING = ["cursor", "limit"]
FILTERS = ["meeting", "organisation", "since"]
# (method, path, summary, role, body, {status: response}, query parameters)
OPERATIONS: list[tuple[str, str, str, str, str | None, dict[int, str], list[str]]] = [
    ("get", "/organisations", "List organisations", "viewer", None, {200: "OrganisationPage"}, PAGING),
    ("post", "/organisations", "Create an organisation", "staff", "OrganisationNew", {201: "Organisation"}, []),
    ("get", "/organisations/{slug}", "Read an organisation", "viewer", None, {200: "Organisation"}, []),
    (
        "patch",
        "/organisations/{slug}",
        "Correct an organisation",
        "staff",
        "OrganisationChange",
        {200: "Organisation"},
        [],
    ),
    ("get", "/contacts", "List contacts", "viewer", None, {200: "ContactPage"}, [*PAGING, "organisation"]),
    ("post", "/contacts", "Create a contact, with memberships", "staff", "ContactNew", {201: "Contact"}, []),
    ("get", "/contacts/{id}", "Read a contact", "viewer", None, {200: "Contact"}, []),
    ("patch", "/contacts/{id}", "Correct a contact", "staff", "ContactChange", {200: "Contact"}, []),
    (
        "put",
        "/contacts/{id}/memberships/{organisation}",
        "Add to an organisation's list, or change the role",
        "staff",
        "MembershipChange",
        {200: "Contact", 201: "Contact"},
        [],
    ),
    ("get", "/contacts/{id}/export", "Everything held about the person (GDPR)", "admin", None, {200: "Export"}, []),
    ("post", "/contacts/{id}/erase", "Erase the person on request (GDPR)", "admin", None, {200: "Erased"}, []),
    ("post", "/imports", "Upload a list: the dry run's report", "staff", "ImportNew", {200: "Import"}, []),
    (
        "post",
        "/imports/{id}/preview",
        "Check an upload again with choices",
        "staff",
        "ImportChoices",
        {200: "Import"},
        [],
    ),
    ("post", "/imports/{id}/apply", "Import an upload", "staff", "ImportChoices", {200: "Import", 409: "Import"}, []),
    ("get", "/meetings", "List meetings", "viewer", None, {200: "MeetingPage"}, PAGING),
    ("post", "/meetings", "Create a meeting", "staff", "MeetingNew", {201: "Meeting"}, []),
    ("get", "/meetings/{slug}", "Read a meeting", "viewer", None, {200: "Meeting"}, []),
    ("patch", "/meetings/{slug}", "Change a meeting", "staff", "MeetingChange", {200: "Meeting"}, []),
    ("get", "/series", "List series and their sessions", "viewer", None, {200: "SeriesPage"}, PAGING),
    ("get", "/series/{slug}", "Read a series and its sessions", "viewer", None, {200: "Series"}, []),
    ("get", "/campaigns", "List campaigns", "viewer", None, {200: "CampaignPage"}, PAGING),
    ("post", "/campaigns", "Create a campaign", "staff", "CampaignNew", {201: "Campaign"}, []),
    ("get", "/campaigns/{id}", "A campaign's status", "viewer", None, {200: "Campaign"}, []),
    ("post", "/campaigns/{id}/schedule", "Schedule a campaign", "staff", "CampaignSchedule", {200: "Campaign"}, []),
    ("post", "/campaigns/{id}/start", "Start a campaign now", "staff", None, {200: "Campaign"}, []),
    ("post", "/campaigns/{id}/cancel", "Cancel a campaign", "staff", None, {200: "Campaign"}, []),
    ("get", "/answers", "Answers, oldest change first", "viewer", None, {200: "AnswerPage"}, [*PAGING, *FILTERS]),
    ("get", "/attendance", "Check-ins, oldest first", "viewer", None, {200: "AttendancePage"}, [*PAGING, *FILTERS]),
]

QUERY = {
    "cursor": {"type": "string", "description": "next_cursor of the previous page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "description": "items per page (default 50)"},
    "organisation": {"type": "string", "description": "an organisation's slug"},
    "meeting": {"type": "string", "description": "a meeting's slug"},
    "since": {"type": "string", "format": "date-time", "description": "only changes after this time"},
}
ERRORS = {
    400: "Malformed JSON, an unknown field, a wrong type or a refused value (field named)",
    401: "No token, or a revoked token, or its account deactivated",
    403: "The scope or the role does not allow it",
    404: "No such thing",
    409: "A conflict (e.g. the campaign's state)",
    410: "The upload is gone",
    413: "The body is too large",
    422: "A refused value (field named)",
    429: "Too many requests",
}


def openapi(version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary, role, body, answers, query in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": f"{method}{path}".replace("/", "_").replace("{", "").replace("}", ""),
            "description": f"Needs a {'read or write' if method == 'get' else 'write'} token of an account with "
            f"the role {role} or higher.",
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": INT if name == "id" and not path.startswith("/imports") else STR,
                }
                for name in _path_names(path)
            ]
            + [{"name": name, "in": "query", "required": False, "schema": QUERY[name]} for name in query],
            "responses": {
                str(status): {"description": "OK", "content": {"application/json": {"schema": ref(name)}}}
                for status, name in answers.items()
            }
            | {
                str(status): {"description": text, "content": {"application/json": {"schema": ref("Error")}}}
                for status, text in ERRORS.items()
                if str(status) not in {str(code) for code in answers}
            },
        }
        if body:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mailer API",
            "version": version,
            "description": "Invitation campaigns and RSVP tracking. See docs/api.md. Errors are "
            '{"error": {"code", "message", "field"}}, the message in the '
            "Accept-Language (sv or en).",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": RESPONSES | BODIES,
        },
    }


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
