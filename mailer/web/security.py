"""CSRF protection, rate limits and headers for the pages anyone with a link can reach.

The public blueprints check CSRF themselves (`csrf_ok`) instead of letting
CSRFProtect abort the request: an expired form is then shown again with what
the person typed, and the RFC 8058 one-click POST, which carries no cookie and
can only unsubscribe, is accepted without a token.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.datastructures import Headers

from mailer.config import DEFAULT_PUBLIC_RATE_LIMIT, Settings
from mailer.mail.context import codec
from mailer.mail.tokens import BadToken
from mailer.web.i18n import Words
from mailer.web.ratelimit import Budget, RateLimited, RateLimits

# Per client address, one budget for all public pages; the setting `public_rate_limit`
# (MAILER_PUBLIC_RATE_LIMIT) changes it, this is its default.
PUBLIC_LIMIT = DEFAULT_PUBLIC_RATE_LIMIT

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
    limits = app.extensions["mailer.rate_limits"] = RateLimits(settings.ratelimit_storage_url)
    names = {bp.name for bp in public}
    for blueprint in public:
        csrf.exempt(blueprint)
    # One budget for all public pages, but never spent by a valid unsubscribe link: a company's
    # mail gateway is one address, and unsubscribing must always work.
    public_budget = Budget.parse("public", settings.public_rate_limit)
    signup_budget = Budget.parse("signup", settings.signup_rate_limit)
    unsubscribing = _valid_unsubscribe_token(settings)

    @app.before_request
    def _public_limits():
        if request.blueprint not in names:
            return
        if request.blueprint != "unsubscribe" or not unsubscribing():
            limits.check(public_budget, client_address())
        if request.blueprint == "signup" and request.method == "POST":  # a flood of sign-ups stops here
            # one budget for each of the sign-up's pages (the form, the confirmation), as before
            limits.check(signup_budget, client_address(), scope=f"{request.endpoint}:signup")

    @app.after_request
    def _public_headers(response):
        if request.blueprint in names:
            add_missing(response.headers, HEADERS)
        return response

    @app.errorhandler(RateLimited)
    def _too_many(exc: RateLimited):
        if request.blueprint == "api":
            from mailer.web.api import http_error

            reply = app.make_response(http_error(exc))
        else:
            words = Words(settings.language)
            title, body = words("too_many_title"), words("too_many")
            reply = app.make_response(
                (render_template("public/message.html", lang=words.lang, title=title, body=body), 429)
            )
        reply.headers["Retry-After"] = str(exc.retry_after)
        return reply


def add_missing(headers: Headers, defaults: dict[str, str]) -> None:
    """Each of `defaults` that the view did not set itself, in one pass over the response's headers
    (werkzeug's setdefault walks them once per default: a measurable part of an answer POST)."""
    present = {name.lower() for name in headers.keys()}
    headers.extend([(name, value) for name, value in defaults.items() if name.lower() not in present])


def client_address() -> str:
    """The budget of a request without a token: its client's address (behind trusted proxies,
    the one ProxyFix took from X-Forwarded-For, mailer.app)."""
    return request.remote_addr or "127.0.0.1"


def _valid_unsubscribe_token(settings: Settings):
    """Whether /u/<token>'s signature checks out (one HMAC, no database): such a request spends no budget."""

    def exempt() -> bool:
        token = (request.view_args or {}).get("token")
        if not token:
            return False
        try:
            codec(settings).loads("unsubscribe", token)
        except BadToken:
            return False
        return True

    return exempt


def csrf_ok() -> bool:
    """True when the POST carries a valid CSRF token for this visitor's session."""
    try:
        current_app.extensions["csrf"].protect()
    except CSRFError:
        return False
    return True


# -- the staff pages --------------------------------------------------------------------

# Per client address, on top of the per-account slow-down in mailer.staff.login.
LOGIN_LIMIT = "20 per minute;200 per day"
STAFF_SESSION_HOURS = 12
STAFF_HEADERS = {
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # personal data: never from a shared computer's cache
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
    # Own script and styles only; email previews sit in sandboxed srcdoc frames.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def init_staff_security(app: Flask, staff: Blueprint, login: Blueprint) -> None:
    """Staff sessions end after a working day; log-in POSTs are rate limited; strict headers.

    CSRF needs nothing here: CSRFProtect checks every staff form (only the
    public blueprints are exempt). The session cookie is signed, HttpOnly,
    SameSite=Lax, and Secure when the app runs behind HTTPS (init_security).
    """
    import datetime as dt

    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=STAFF_SESSION_HOURS)
    limits, login_budget = app.extensions["mailer.rate_limits"], Budget.parse("login", LOGIN_LIMIT)

    @app.before_request
    def _login_limit():
        if request.blueprint == f"{staff.name}.{login.name}" and request.method == "POST":  # nested in staff
            limits.check(login_budget, client_address(), scope=request.endpoint)  # each page its own budget

    @app.after_request
    def _staff_headers(response):
        if request.blueprints and request.blueprints[-1] == staff.name:
            add_missing(response.headers, STAFF_HEADERS)
        return response


# -- the JSON API ---------------------------------------------------------------------------

API_HEADERS = {
    "Cache-Control": "no-store",  # personal data
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


def _api_key() -> str:
    """The rate-limit budget of a request: its token (hashed, never kept in clear) or its address."""
    import hashlib

    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer" and token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()
    return "address:" + client_address()


def init_api_security(app: Flask, settings: Settings, api: Blueprint) -> None:
    """No CSRF (a token in a header, never a cookie, authenticates), a rate limit per token, strict headers."""
    app.extensions["csrf"].exempt(api)
    limits, api_budget = app.extensions["mailer.rate_limits"], Budget.parse("api", settings.api_rate_limit)

    @app.before_request
    def _api_limit():
        if request.blueprint == api.name:
            limits.check(api_budget, _api_key())

    @app.after_request
    def _api_headers(response):
        if request.blueprint == api.name:
            add_missing(response.headers, API_HEADERS)
        return response
