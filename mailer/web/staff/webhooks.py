"""Webhooks (admins): endpoints with their secrets, adding, disabling and removing them, and the
deliveries with their status, which can be sent again."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, redirect, request, url_for
from sqlalchemy.orm import Session

from mailer.staff import webhook_actions
from mailer.staff.roles import ADMIN
from mailer.web.staff.access import requires
from mailer.web.staff.common import db, flash_translated, page, settings, signed_in_staff, words
from mailer.webhooks import EVENTS
from mailer.webhooks.addresses import WebhookError

bp = Blueprint("webhooks", __name__)


def _endpoint_filter() -> int | None:
    value = request.args.get("show", "")
    return int(value) if value.isdigit() else None


def _show(status: int = 200, error: str | None = None, form: dict | None = None):
    shown = _endpoint_filter()
    with db().reading() as session:
        view = webhook_actions.overview(session, shown)
        return page("webhooks.html", status, view=view, events=EVENTS, shown=shown, error=error,
                    form=form or {"events": list(EVENTS)}, tz=settings().timezone)


@bp.get("/webhooks")
@requires(ADMIN)
def index():
    return _show()


@bp.post("/webhooks")
@requires(ADMIN)
def add():
    url, description = request.form.get("url", ""), request.form.get("description", "")
    events = request.form.getlist("events")
    try:
        with db().transaction() as session:
            endpoint = webhook_actions.add_endpoint(session, signed_in_staff().actor, url, events, settings().webhook_allow_private,
                                                    description)
    except WebhookError as exc:
        return _show(400, exc.render(words().lang), {"url": url, "description": description, "events": events})
    flash_translated("webhook_added", url=endpoint.url)
    return redirect(url_for(".index"), code=303)


def _act(change: Callable[[Session], str]) -> str | None:
    """Run one endpoint change; its URL, or None after saying why it was refused."""
    try:
        with db().transaction() as session:
            return change(session)
    except WebhookError as exc:
        flash_translated("webhook_refused", "error", reason=exc.render(words().lang))
        return None


def _back():
    return redirect(url_for(".index"), code=303)


@bp.post("/webhooks/<int:endpoint_id>/disable")
@requires(ADMIN)
def disable(endpoint_id: int):
    url = _act(lambda session: webhook_actions.set_active(session, signed_in_staff().actor, endpoint_id, False).url)
    if url:
        flash_translated("webhook_disabled", url=url)
    return _back()


@bp.post("/webhooks/<int:endpoint_id>/enable")
@requires(ADMIN)
def enable(endpoint_id: int):
    url = _act(lambda session: webhook_actions.set_active(session, signed_in_staff().actor, endpoint_id, True).url)
    if url:
        flash_translated("webhook_enabled", url=url)
    return _back()


@bp.post("/webhooks/<int:endpoint_id>/remove")
@requires(ADMIN)
def remove(endpoint_id: int):
    url = _act(lambda session: webhook_actions.remove_endpoint(session, signed_in_staff().actor, endpoint_id))
    if url:
        flash_translated("webhook_removed", url=url)
    return _back()


@bp.post("/webhooks/<int:endpoint_id>/secret")
@requires(ADMIN)
def secret(endpoint_id: int):
    url = _act(lambda session: webhook_actions.new_secret(session, signed_in_staff().actor, endpoint_id).url)
    if url:
        flash_translated("webhook_new_secret", url=url)
    return _back()


@bp.post("/webhooks/deliveries/<int:delivery_id>/resend")
@requires(ADMIN)
def resend(delivery_id: int):
    try:
        with db().transaction() as session:
            webhook_actions.resend(session, signed_in_staff().actor, delivery_id)
    except WebhookError as exc:
        flash_translated("webhook_refused", "error", reason=exc.render(words().lang))
    else:
        flash_translated("webhook_resent", id=delivery_id)
    return redirect(url_for(".index"), code=303)
