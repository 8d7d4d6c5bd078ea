"""List imports: the staff web's upload, as two calls: a preview (the importer's own dry run) and apply.

The CSV is kept on the server between them (mailer.staff.uploads, as for the web upload), and
the import id given back names it. Choices for unknown regions and columns and for differently
spelled names are the web form's, as JSON objects (see `Choices`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailer.api import schemas
from mailer.api.bodies import check
from mailer.api.context import Context
from mailer.api.errors import ApiError
from mailer.api.paging import encode
from mailer.contacts.csvfile import Choices, Problem
from mailer.contacts.importer import FileReport
from mailer.staff import contact_actions, uploads
from mailer.translations import translate


def _folder(ctx: Context) -> Path:
    return ctx.settings.instance_path / "uploads"


def _problem(problem: Problem, language: str) -> dict[str, Any]:
    params = dict(problem.params)
    try:
        if problem.code == "cleaned":
            params["fields"] = ", ".join(translate(f"field.{f}", language) for f in params["fields"].split(", "))
        elif problem.code in ("duplicate_column", "too_long"):
            params["field"] = translate(f"field.{params['field']}", language)
        message = translate(f"import_problem.{problem.code}", language, **params) if problem.code else problem.message
    except (KeyError, IndexError):
        message = problem.message
    return {
        "line": problem.line,
        "code": problem.code or None,
        "message": message,
        "value": problem.value,
        "choice": problem.choice,
        "suggestion": problem.suggestion,
    }


def _report(file: FileReport, language: str) -> dict[str, Any]:
    error = None
    if file.error:
        message = (
            translate(f"import_problem.{file.error_code}", language, **file.error_params)
            if file.error_code
            else file.error
        )
        error = {"code": file.error_code or None, "message": message}
    return {
        "organisation": file.organisation,
        "error": error,
        "rows": file.rows,
        "imported": file.imported,
        "updated": file.updated,
        "unchanged": file.unchanged,
        "removed": file.removed,
        "suppressed": file.suppressed,
        "erased": file.erased,
        "rejected": [_problem(p, language) for p in file.rejected],
        "warnings": [_problem(p, language) for p in file.warnings],
        "blocking": [_problem(p, language) for p in file.blocking],
        "disagreements": [
            {
                "line": d.line,
                "email": d.email,
                "field": d.field,
                "shown": d.shown,
                "result": d.result,
                "options": d.options,
            }
            for d in file.disagreements
        ],
    }


def _id(token: str, name: str, org: str) -> str:
    return encode([token, name, org])


def _parts(import_id: str) -> tuple[str, str, str]:
    from mailer.api.paging import page_request

    try:
        after = page_request(import_id, None).after or []
    except ApiError:
        raise ApiError("not_found", 404, what="import", key=import_id) from None
    if len(after) != 3 or not all(isinstance(part, str) for part in after):
        raise ApiError("not_found", 404, what="import", key=import_id)
    return after[0], after[1], after[2]


def _choices(values: dict[str, Any]) -> Choices:
    given = values.get("choices") or {}
    return Choices(
        columns=dict(given.get("columns", {})),
        regions=dict(given.get("regions", {})),
        names=dict(given.get("names", {})),
        regions_shown=dict(given.get("regions_shown", {})),
    )


def _answer(ctx: Context, file: FileReport, import_id: str | None, applied: bool) -> dict[str, Any]:
    return {"id": import_id, "applied": applied, "report": _report(file, ctx.language)}


def start_import(ctx: Context, body: Any) -> dict[str, Any]:
    """Keep the CSV and return the dry run's report; nothing is imported yet."""
    values = check(body, schemas.IMPORT_NEW)
    org = values["organisation"].strip().lower()
    name = contact_actions.upload_name(values.get("filename") or f"{org}.csv")
    data = values["csv"].encode("utf-8")
    if len(data) > ctx.settings.max_upload_bytes:
        raise ApiError("too_large", 413, field="csv", mb=ctx.settings.max_upload_mb)
    token = uploads.keep(_folder(ctx), data)
    with ctx.db.reading() as session:
        report = contact_actions.check_upload(
            session, _folder(ctx), token, name, org, _choices(values), ctx.settings.max_upload_bytes
        )
    file = report.files[0]
    if file.error:
        uploads.discard(_folder(ctx), token)
        return _answer(ctx, file, None, False)
    return _answer(ctx, file, _id(token, name, org), False)


def preview_import(ctx: Context, import_id: str, body: Any) -> dict[str, Any]:
    """The same upload checked again with the choices given."""
    values = check(body, schemas.IMPORT_CHOICES)
    token, name, org = _parts(import_id)
    try:
        with ctx.db.reading() as session:
            report = contact_actions.check_upload(
                session, _folder(ctx), token, name, org, _choices(values), ctx.settings.max_upload_bytes
            )
    except uploads.UploadGone:
        raise ApiError("import_gone", 410) from None
    return _answer(ctx, report.files[0], import_id, False)


def apply_import(ctx: Context, import_id: str, body: Any) -> tuple[dict[str, Any], int]:
    """Import for real; a file with something still to choose imports nothing (409) and stays for another try."""
    values = check(body, schemas.IMPORT_CHOICES)
    token, name, org = _parts(import_id)
    try:
        report = contact_actions.confirm_upload(
            ctx.db,
            ctx.caller.actor,
            _folder(ctx),
            token,
            name,
            org,
            _choices(values),
            ctx.settings.max_upload_bytes,
            via="api",
        )
    except uploads.UploadGone:
        raise ApiError("import_gone", 410) from None
    file = report.files[0]
    if file.blocking or file.error:
        return _answer(ctx, file, import_id, False), 409
    return _answer(ctx, file, None, True), 200
