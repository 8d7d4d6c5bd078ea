"""HTTP: thin handlers over the domain packages."""

from flask import Flask, g, request
from flask_babel import Babel
from werkzeug.exceptions import HTTPException

from mailer import translations


def init_app(app: Flask) -> None:
    from mailer.web import api, evaluation, faults, health, rsvp, series, signup, staff, unsubscribe
    from mailer.web.security import init_api_security, init_security, init_staff_security

    settings = app.extensions["mailer.settings"]

    # The catalogs (mailer/translations) serve Flask-Babel's gettext in templates and the
    # pages' `t("key")`; the page's language is the recipient's or the staff member's.
    translations.ensure_compiled()
    Babel(
        app,
        locale_selector=lambda: g.get("page_language") or settings.language,
        timezone_selector=lambda: settings.timezone.key,
        default_translation_directories=str(translations.DIRECTORY),
    )

    @app.before_request  # before CSRFProtect's, which reads the body
    def _upload_limit():
        """A contact list may be as large in the browser as on the command line; other bodies stay small."""
        if request.endpoint == "staff.contacts.upload":  # the setting read per request: tests change it
            limit = app.extensions["mailer.settings"].max_upload_bytes
            request.max_content_length = limit + 256 * 1024  # the form around the file
        elif request.endpoint == "api.import_start":  # the list inside JSON: quotes and line ends escaped
            limit = app.extensions["mailer.settings"].max_upload_bytes
            request.max_content_length = limit + limit // 4 + 256 * 1024

    app.register_blueprint(health.bp)
    app.register_blueprint(rsvp.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(evaluation.bp)
    app.register_blueprint(signup.bp)
    app.register_blueprint(series.bp)
    init_security(app, settings, public=[rsvp.bp, unsubscribe.bp, evaluation.bp, signup.bp, series.bp])
    init_staff_security(app, staff.init_app(app), login=staff.auth.bp)  # /staff/: behind a log-in
    init_api_security(app, settings, api.init_app(app))  # /api/v1/: behind a token
    faults.init_app(app)  # a full disk or a lost database: a 503 naming it

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        """The API answers in JSON even when the URL or the method is wrong; other pages as before."""
        if api.is_api_request():
            return api.http_error(exc)
        return exc

    @app.errorhandler(404)
    def _not_found(exc):
        """A cut-off or mangled link (/r/<token>/calendar, /u/) gets the recipients' friendly page."""
        if request.path.startswith("/staff/"):
            return exc
        if api.is_api_request():
            return api.http_error(exc)
        return rsvp.not_found()

    @app.context_processor
    def _site():
        return {"site_name": settings.mail_from.display_name}
