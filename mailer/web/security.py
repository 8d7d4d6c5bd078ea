"""CSRF protection, rate limits and headers for the pages anyone with a link can reach.

The public blueprints check CSRF themselves (`csrf_ok`) instead of letting
CSRFProtect abort the request: an expired form is then shown again with what
the person typed, and the RFC 8058 one-click POST, which carries no cookie and
can only unsubscribe, is accepted without a token.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits.errors import ConfigurationError

from mailer.config import ConfigError, Settings, env_name
from mailer.web.i18n import Words

# Per client address. Generous enough for an office behind one NAT address,
# tight enough that nobody can flood the answer or unsubscribe forms.
PUBLIC_LIMIT = "120 per minute;1000 per hour"

HEADERS = {
    # The token is in the URL: never send it to the map site or anyone else.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def init_security(app: Flask, settings: Settings, public: list[Blueprint]) -> None:
    app.config.update(
        SECRET_KEY_FALLBACKS=list(settings.old_secret_keys),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=12 * 3600,
    )
    csrf = CSRFProtect(app)
    try:
        limiter = Limiter(get_remote_address, app=app, storage_uri=settings.ratelimit_storage_url,
                          headers_enabled=True, swallow_errors=True, in_memory_fallback_enabled=True)
    except ConfigurationError as exc:
        raise ConfigError(env_name("ratelimit_storage_url"), str(exc)) from None
    names = {bp.name for bp in public}
    for blueprint in public:
        csrf.exempt(blueprint)
        limiter.shared_limit(PUBLIC_LIMIT, scope="public")(blueprint)  # one budget for all public pages

    @app.after_request
    def _public_headers(response):
        if request.blueprint in names:
            for name, value in HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    @app.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        words = Words(settings.language)
        return render_template("public/message.html", lang=words.lang, title=words("too_many_title"),
                               body=words("too_many")), 429


def csrf_ok() -> bool:
    """True when the POST carries a valid CSRF token for this visitor's session."""
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        return False
    return True
