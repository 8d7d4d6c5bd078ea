"""HTTP: thin handlers over the domain packages."""

from flask import Flask


def init_app(app: Flask) -> None:
    from mailer.web import health

    app.register_blueprint(health.bp)
