"""HTTP: thin handlers over the domain packages."""

from flask import Flask


def init_app(app: Flask) -> None:
    from mailer.web import evaluation, health, rsvp, unsubscribe
    from mailer.web.security import init_security

    settings = app.extensions["mailer.settings"]
    app.register_blueprint(health.bp)
    app.register_blueprint(rsvp.bp)
    app.register_blueprint(unsubscribe.bp)
    app.register_blueprint(evaluation.bp)
    init_security(app, settings, public=[rsvp.bp, unsubscribe.bp, evaluation.bp])

    @app.context_processor
    def _site():
        return {"site_name": settings.mail_from.display_name}
