"""The application factory shared by the web app, the worker and the CLI."""

from __future__ import annotations

from typing import Any

from flask import Flask

from mailer.config import load_settings
from mailer.db import Database
from mailer.mail.templates import EmailTemplates
from mailer.web.extensions import install


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `test_config` overrides settings by their config.toml names."""
    settings = load_settings(test_config)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    install(
        app,
        settings,
        Database(settings.database_url),
        EmailTemplates(settings.templates_path, settings.max_message_bytes),
    )

    if settings.proxy_count:
        # Behind nginx/Caddy: the visitor's address (rate limits) and https (Secure cookies)
        # come from the proxy's X-Forwarded-* headers, trusted for exactly this many hops.
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]

    from mailer.web import init_app as init_web

    init_web(app)
    return app
