from __future__ import annotations

import datetime as dt

import click

from mailer.audit.log import cli_actor
from mailer.campaigns import service
from mailer.campaigns.audience import Audience, AudienceError
from mailer.campaigns.models import CampaignState
from mailer.cli.runtime import Runtime, cli_language, echo_json, echo_translated, fail, pass_runtime
from mailer.mail.templates import TemplateProblem
from mailer.mail.transport import TransportError
from mailer.staff import campaign_actions as actions
from mailer.translations import N_, translate
from mailer.worker.sender import Sender

WHEN = '"YYYY-MM-DD HH:MM"'
COUNTS = (
    N_("cli.count.queued"),
    N_("cli.count.sent"),
    N_("cli.count.retrying"),
    N_("cli.count.failed"),
    N_("cli.count.bounced"),
    N_("cli.count.skipped"),
)  # the status line's figures, by their JSON names
WHY_NOT = (
    N_("cli.why_not.unsubscribed"),
    N_("cli.why_not.bounced"),
    N_("cli.why_not.erased"),
    N_("cli.why_not.answered"),
    N_("cli.why_not.not_in_audience"),
)  # service.will_not_get's codes


@click.group()
def campaigns() -> None:
    """Invitation rounds, reminders and thank-you mails."""


def _campaign(session, campaign_id: int):
    try:
        return service.get_campaign(session, campaign_id)
    except service.CampaignError as exc:
        fail(exc)


@campaigns.command()
@click.option("--meeting", "meeting_slug", help="The meeting the round is about (or --series).")
@click.option("--series", "series_slug", help="A series: the invitation lets each person choose a session.")
@click.option("--template", required=True, help="invitation, reminder, information (to those who said yes) or thanks")
@click.option("--org", "orgs", multiple=True, help="Organisation slug (repeatable).")
@click.option("--region", "regions", multiple=True, help="Contact's or organisation's region (repeatable).")
@click.option("--role", "roles", multiple=True, help="Role on a member list, e.g. ordförande (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Every contact.")
@click.option("--only-unanswered", is_flag=True, help="Only those invited who have not answered (reminders).")
@click.option("--only-yes", is_flag=True, help="Only those who said yes (practical information).")
@click.option(
    "--include-answered",
    is_flag=True,
    help="Invitations and reminders: also those who already answered the meeting (left out by default).",
)
@click.option("--send-at", metavar=WHEN, help="Schedule it (local time); otherwise it stays a draft.")
@pass_runtime
def create(
    runtime: Runtime,
    meeting_slug,
    series_slug,
    template,
    orgs,
    regions,
    roles,
    all_,
    only_unanswered,
    only_yes,
    include_answered,
    send_at,
):
    """Create a campaign; prints its id."""
    audience = Audience(
        list(orgs), list(regions), list(roles), all_, only_unanswered, only_yes, include_answered=include_answered
    )
    with runtime.transaction() as session:
        try:
            campaign = actions.create(
                session,
                runtime.settings,
                runtime.templates,
                cli_actor(),
                meeting_slug=meeting_slug,
                template=template,
                audience=audience,
                send_at=send_at,
                series_slug=series_slug,
            )
        except (service.CampaignError, AudienceError, TemplateProblem) as exc:
            fail(exc)
        status = service.status(session, campaign)
    click.echo(campaign.id)
    echo_translated(
        "cli.campaign_created",
        id=campaign.id,
        template=template,
        meeting=meeting_slug or series_slug,
        recipients=status.recipients,
        state=campaign.state,
        err=True,
    )
    if status.left_out:
        echo_translated("cli.campaign_left_out", n=status.left_out, err=True)


@campaigns.command()
@click.argument("campaign_id", type=int)
@click.option("--contact", "email", help="Render for this recipient (default: the first one).")
@pass_runtime
def preview(runtime: Runtime, campaign_id: int, email: str | None):
    """Print the rendered message for one recipient."""
    with runtime.transaction() as session:
        campaign = _campaign(session, campaign_id)
        try:
            message = service.preview(session, runtime.settings, runtime.templates, campaign, email)
            blocked = service.will_not_get(session, campaign, email)
        except (service.CampaignError, TemplateProblem) as exc:
            fail(exc)
    if blocked and email:  # (only a given address is blocked)
        echo_translated(
            "cli.will_not_get",
            email=email.strip(),
            reason=translate(f"cli.why_not.{blocked}", cli_language()),
            err=True,
        )
    for header in ("From", "To", "Subject", "List-Unsubscribe"):
        click.echo(f"{header}: {message[header]}")
    click.echo()
    body = message.get_body(("plain",))
    assert body is not None, "every message has a text part (mail/message.py)"
    click.echo(body.get_content())


@campaigns.command()
@click.argument("campaign_id", type=int)
@click.option("--to", "to_email", required=True, help="Where the test goes (e.g. yourself).")
@pass_runtime
def test(runtime: Runtime, campaign_id: int, to_email: str):
    """Send one test message to an address: written for a made-up person, "Testa Testsson"
    (the first recipient's organisations and language); its links save nothing."""
    try:
        sent_to = actions.send_test(runtime.db, runtime.settings, runtime.templates, cli_actor(), campaign_id, to_email)
    except ValueError as exc:  # a bad address or an unknown campaign (CampaignError is a ValueError)
        fail(
            exc
            if isinstance(exc, service.CampaignError)
            else translate("cli.test_bad_address", cli_language(), email=to_email.strip())
        )
    except TemplateProblem as exc:
        fail(exc)
    except TransportError as exc:
        fail(translate("cli.test_not_sent", cli_language(), reply=exc.reply))
    if runtime.settings.smtp_url:
        echo_translated("cli.test_sent_smtp", email=sent_to)
    else:
        echo_translated("cli.test_sent_file", email=sent_to, folder=runtime.settings.outbox_path)


@campaigns.command("schedule")
@click.argument("campaign_id", type=int)
@click.option("--at", "at", required=True, metavar=WHEN, help="Local time in the configured zone.")
@pass_runtime
def schedule_(runtime: Runtime, campaign_id: int, at: str):
    """Schedule a campaign; the worker sends it at that time."""
    with runtime.transaction() as session:
        try:
            campaign = actions.schedule(session, runtime.settings, cli_actor(), campaign_id, at)
        except service.CampaignError as exc:
            fail(exc)
    assert campaign.send_at is not None, "scheduled: it has its send time"
    echo_translated(
        "cli.campaign_scheduled",
        id=campaign_id,
        when=f"{campaign.send_at.astimezone(runtime.settings.timezone):%Y-%m-%d %H:%M}",
    )


@campaigns.command()
@click.argument("campaign_id", type=int)
@pass_runtime
def send(runtime: Runtime, campaign_id: int):
    """Start a campaign now (or carry on with a running one) and send it from this process.

    Retries due later are left to the worker.
    """
    with runtime.transaction() as session:
        if _campaign(session, campaign_id).state is not CampaignState.RUNNING:
            try:
                actions.send_now(session, runtime.settings, runtime.templates, cli_actor(), campaign_id)
            except (service.CampaignError, TemplateProblem) as exc:
                fail(exc)
    sender = Sender(runtime.db, runtime.settings, runtime.templates)
    try:
        while True:
            result = sender.run_once(campaign_id)
            if result.paused_until:
                until = result.paused_until.astimezone(runtime.settings.timezone)
                fail(
                    translate("cli.campaign_paused", cli_language(), until=f"{until:%Y-%m-%d %H:%M}", id=campaign_id), 1
                )
            if result.connection_error:
                fail(translate("cli.smtp_unavailable", cli_language(), error=result.connection_error), 1)
            if not result.claimed:
                break
    finally:
        sender.close()
    _print_status(runtime, campaign_id, as_json=False)


@campaigns.command()
@click.argument("campaign_id", type=int)
@pass_runtime
def cancel(runtime: Runtime, campaign_id: int):
    """Cancel a campaign; messages not yet sent are skipped."""
    with runtime.transaction() as session:
        try:
            skipped = actions.cancel(session, cli_actor(), campaign_id)
        except service.CampaignError as exc:
            fail(exc)
    echo_translated("cli.campaign_cancelled", id=campaign_id, n=skipped)


@campaigns.command()
@click.argument("campaign_id", type=int)
@pass_runtime
def resume(runtime: Runtime, campaign_id: int):
    """Send a paused campaign again now (and try a paused relay again), before its retry time."""
    with runtime.transaction() as session:
        try:
            waiting = actions.resume(session, cli_actor(), campaign_id)
        except service.CampaignError as exc:
            fail(exc)
    echo_translated("cli.campaign_resumed", id=campaign_id, n=waiting)


@campaigns.command()
@click.argument("campaign_id", type=int)
@pass_runtime
def retry(runtime: Runtime, campaign_id: int):
    """Queue a campaign's failed messages again."""
    with runtime.transaction() as session:
        try:
            count = actions.retry(session, cli_actor(), campaign_id)
        except service.CampaignError as exc:
            fail(exc)
    echo_translated("cli.campaign_retried", id=campaign_id, n=count)


@campaigns.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, as_json: bool):
    """List campaigns."""
    with runtime.transaction() as session:
        campaigns_ = service.list_campaigns(session)
        rows = [service.status(session, campaign).to_json() for campaign in campaigns_]
        local = [
            campaign.send_at and f"{campaign.send_at.astimezone(runtime.settings.timezone):%Y-%m-%d %H:%M}"
            if campaign.state is not CampaignState.CANCELLED
            else None
            for campaign in campaigns_
        ]
    if as_json:
        echo_json(rows)
        return
    sent_word = translate("cli.campaign_row_sent", cli_language())
    for row, send_at in zip(rows, local, strict=True):
        click.echo(
            f"{row['id']:>4}  {row['meeting']:<14} {row['template']:<12} {row['state']:<10} "
            f"{row['sent']:>5}/{row['recipients']:<5} {sent_word}  {send_at or ''}"
        )


def _print_status(runtime: Runtime, campaign_id: int, as_json: bool) -> None:
    with runtime.transaction() as session:
        data = service.status(session, _campaign(session, campaign_id)).to_json()
    if as_json:
        echo_json(data)
        return
    echo_translated(
        "cli.campaign_status",
        id=data["id"],
        template=data["template"],
        meeting=data["meeting"],
        audience=data["audience"],
        state=data["state"],
    )
    click.echo("  " + ", ".join(f"{translate(key, cli_language())} {data[key.rsplit('.', 1)[1]]}" for key in COUNTS))
    if data["uncertain"]:
        echo_translated("cli.campaign_uncertain", n=data["uncertain"])
    for reason, until in (
        (data["pause_reason"], data["paused_until"]),
        (data["relay_pause_reason"], data["relay_paused_until"]),
    ):
        if until:
            local = dt.datetime.fromisoformat(until).astimezone(runtime.settings.timezone)
            reply = data["pause_reply"] if reason == data["pause_reason"] and data["pause_reply"] else None
            echo_translated(
                "cli.campaign_paused_status",
                reason=reason,
                until=f"{local:%Y-%m-%d %H:%M}",
                reply=f": {reply}" if reply else "",
            )


@campaigns.command("status")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def status_(runtime: Runtime, campaign_id: int, as_json: bool):
    """Counts of queued, sent, retrying, failed, bounced and skipped messages."""
    _print_status(runtime, campaign_id, as_json)
