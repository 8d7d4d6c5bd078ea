"""Webhooks (admins): endpoints with their secrets, adding, disabling and removing them, and the
deliveries with their status, which can be sent again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
        return page(
            "webhooks.html",
            status,
            view=view,
            events=EVENTS,
            shown=shown,
            error=error,
            form=form or {"events": list(EVENTS)},
            tz=settings().timezone,
        )


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
            endpoint = webhook_actions.add_endpoint(
                session, signed_in_staff().actor, url, events, settings().webhook_allow_private, description
            )
    except WebhookError as exc:
        return _show(400, exc.render(words().lang), {"url": url, "description": description, "events": events})
    flash_translated("webhook_added", url=endpoint.url)
    return redirect(url_for(".index"), code=303)


def _act(done: str, change: Callable[[Session], dict[str, Any]]):
    """Run one change in a transaction and go back to the list, saying what was done (the catalog's
    `done` text with the values the change returns) or why it was refused."""
    try:
        with db().transaction() as session:
            values = change(session)
    except WebhookError as exc:
        flash_translated("webhook_refused", "error", reason=exc.render(words().lang))
    else:
        flash_translated(done, **values)
    return redirect(url_for(".index"), code=303)


@bp.post("/webhooks/<int:endpoint_id>/disable")
@requires(ADMIN)
def disable(endpoint_id: int):
    return _act(
        "webhook_disabled",
        lambda session: {"url": webhook_actions.set_active(session, signed_in_staff().actor, endpoint_id, False).url},
    )


@bp.post("/webhooks/<int:endpoint_id>/enable")
@requires(ADMIN)
def enable(endpoint_id: int):
    return _act(
        "webhook_enabled",
        lambda session: {"url": webhook_actions.set_active(session, signed_in_staff().actor, endpoint_id, True).url},
    )


@bp.post("/webhooks/<int:endpoint_id>/remove")
@requires(ADMIN)
def remove(endpoint_id: int):
    return _act(
        "webhook_removed",
        lambda session: {"url": webhook_actions.remove_endpoint(session, signed_in_staff().actor, endpoint_id)},
    )


@bp.post("/webhooks/<int:endpoint_id>/secret")
@requires(ADMIN)
def secret(endpoint_id: int):
    return _act(
        "webhook_new_secret",
        lambda session: {"url": webhook_actions.new_secret(session, signed_in_staff().actor, endpoint_id).url},
    )


@bp.post("/webhooks/deliveries/<int:delivery_id>/resend")
@requires(ADMIN)
def resend(delivery_id: int):
    def change(session: Session) -> dict[str, Any]:
        webhook_actions.resend(session, signed_in_staff().actor, delivery_id)
        return {"id": delivery_id}

    return _act("webhook_resent", change)
