"""Reports staff give to others: the board report for a period (page, print, CSV) and each
organisation's data quality (bounced, unsubscribed, rejected at import) to send back to it."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, request
from markupsafe import Markup

from mailer.audit.log import record
from mailer.errors import NotFound
from mailer.staff.roles import VIEWER
from mailer.tracking.org_report import org_report, org_report_csv
from mailer.tracking.report import board_csv, board_report, to_html
from mailer.translations import LANGUAGES
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, page, settings, signed_in_staff, words

bp = Blueprint("reports", __name__)
CSV = "text/csv"  # Flask adds "; charset=utf-8"


def _day(name: str) -> tuple[dt.date | None, str | None]:
    """A date from the query string, or the name of the field that is not one."""
    text = request.args.get(name, "").strip()
    if not text:
        return None, None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, name
    return (day, None) if 2000 <= day.year <= 2999 else (None, name)


def _period() -> tuple[dt.date | None, dt.date | None, str, str | None]:
    """From, to (default: this calendar year so far), the report's language and a field in error."""
    today = dt.datetime.now(settings().timezone).date()
    start, bad_start = _day("from")
    end, bad_end = _day("to")
    if not request.args.get("from") and not bad_start:
        start = today.replace(month=1, day=1)
    asked = request.args.get("lang")
    language = asked if asked in LANGUAGES else words().lang
    error = bad_start or bad_end or ("to" if start and end and start > end else None)
    return start, end, language, error


@bp.get("/reports/board")
@requires(VIEWER)
def board():
    start, end, language, error = _period()
    with db().transaction() as session:
        report = board_report(session, settings(), start, end if not error else None, language)
    body = Markup(to_html(report, standalone=False))  # autoescaped by its own Jinja environment
    return page(
        "board_report.html",
        422 if error else 200,
        report=report,
        body=body,
        language=language,
        start=request.args.get("from", start.isoformat() if start else ""),
        end=request.args.get("to", ""),
        error=error,
    )


@bp.get("/reports/board.csv")
@requires(VIEWER)
def board_download():
    start, end, language, error = _period()
    with db().transaction() as session:
        report = board_report(session, settings(), start, None if error else end, language)
        record(session, signed_in_staff().actor, "reports.board_download", None, period=report.period)
    name = (
        f"styrelserapport-{start or 'start'}-{end or 'idag'}.csv"
        if language == "sv"
        else f"board-report-{start or 'start'}-{end or 'today'}.csv"
    )
    return Response(board_csv(report), mimetype=CSV, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/organisations/<slug>/quality")
@requires(VIEWER)
def quality(slug: str):
    with db().transaction() as session:
        try:
            report = org_report(session, slug, settings().timezone)
        except NotFound:
            return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
    return page("quality.html", report=report)


@bp.get("/organisations/<slug>/quality.csv")
@requires(VIEWER)
def quality_download(slug: str):
    """The organisation's list of addresses to fix; personal data, so the download is in the audit log."""
    with db().transaction() as session:
        try:
            report = org_report(session, slug, settings().timezone)
        except NotFound:
            return page("message.html", 404, title_key="not_found_title", body_key="not_found_body")
        record(session, signed_in_staff().actor, "reports.quality_download", f"org:{slug}")
    name = f"{slug}-{'adresser-att-ratta' if words().lang == 'sv' else 'addresses-to-fix'}.csv"  # ASCII: every browser
    return Response(
        org_report_csv(report, words().lang),
        mimetype=CSV,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
