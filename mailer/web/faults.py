"""A fault of the database or the instance's files met while answering a request (a full disk,
a read-only folder, a database server gone): a 503 that names it, never a bare 500.

Why: the CLI names these faults in one line (mailer.cli.FaultGroup), and the web must too. A
recipient whose answer could not be saved is told so and asked to try again (their answer is
not lost silently; the transaction was rolled back, so nothing is half-written); staff and API
callers get the fault's own text, with the place and the fix. Anything else stays a 500.
"""

from __future__ import annotations

from flask import Flask, g, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from mailer.operations.faults import fault_from_error, sqlite_path
from mailer.web.extensions import db_of, settings_of
from mailer.web.i18n import Words

RETRY_AFTER_S = 60


def init_app(app: Flask) -> None:
    @app.errorhandler(SQLAlchemyError)
    @app.errorhandler(OSError)
    def _fault(exc: Exception):
        from mailer.web.api import error_reply, is_api_request, language

        settings = settings_of(app)
        place = sqlite_path(settings.database_url) or db_of(app).engine.url.render_as_string(hide_password=True)
        fault = fault_from_error(exc, place)
        if fault is None:
            raise exc
        app.logger.error("%s %s: %s", request.method, request.path, fault.render("en"))
        if is_api_request():
            reply, status = error_reply("fault", 503, message=fault.render(language()))
        else:
            staff = request.path.startswith("/staff/")
            words = Words(g.get("page_language") or settings.language)
            body = fault.render(words.lang) if staff else words("fault")
            reply = render_template("public/message.html", lang=words.lang, title=words("fault_title"), body=body)
            status = 503
        return reply, status, {"Retry-After": str(RETRY_AFTER_S)}
