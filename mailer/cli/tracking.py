"""Commands for the day of the meeting and after: check-in, exports, evaluations, reports."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from mailer.attendance.checkin import add_walk_in, check_in
from mailer.audit.log import cli_actor, record
from mailer.cli.meetings import meetings
from mailer.cli.orgs import orgs
from mailer.cli.runtime import Runtime, cli_language, echo_json, echo_translated, fail, pass_runtime
from mailer.evaluations.service import summarise
from mailer.meetings.service import get_meeting, list_meetings
from mailer.tracking.export import attendee_rows, to_csv, to_xlsx
from mailer.tracking.org_report import org_report
from mailer.tracking.report import board_report, to_html, to_markdown
from mailer.translations import translate


def _meeting(session, slug: str):
    try:
        return get_meeting(session, slug)
    except LookupError as exc:
        fail(exc)


@meetings.command("checkin")
@click.argument("slug")
@click.argument("emails", nargs=-1)
@click.option("--walk-in", "walk_ins", multiple=True, metavar="NAME", help="Someone not on any list (repeatable).")
@click.option("--org", "walk_in_org", metavar="NAME", help="The walk-ins' organisation, e.g. Riksteatern.")
@pass_runtime
def checkin(runtime: Runtime, slug: str, emails: tuple[str, ...], walk_ins: tuple[str, ...], walk_in_org: str | None):
    """Mark who came. Unknown addresses are listed (exit 1); add them with --walk-in."""
    if not emails and not walk_ins:
        fail(translate("cli.checkin_needs", cli_language()))
    with runtime.transaction() as session:
        meeting = _meeting(session, slug)
        result = check_in(session, meeting, list(emails))
        for name in walk_ins:
            try:
                add_walk_in(session, meeting, name, walk_in_org)
            except ValueError:  # the one refusal: an empty name
                fail(translate("cli.walk_in_needs_name", cli_language()))
        record(
            session,
            cli_actor(),
            "meetings.checkin",
            f"meeting:{slug}",
            people=len(result.checked_in),
            walk_ins=len(walk_ins),
        )
    echo_translated(
        "cli.checkin_done",
        slug=slug,
        checked_in=len(result.checked_in),
        already=len(result.already),
        walk_ins=len(walk_ins),
    )
    for email in result.unknown:
        echo_translated("cli.checkin_unknown", email=email, err=True)
    raise SystemExit(1 if result.unknown else 0)


@meetings.command("evaluations")
@click.argument("slug", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def evaluations(runtime: Runtime, slug: str | None, as_json: bool):
    """Evaluation results per meeting and per region: averages, counts, free text."""
    with runtime.db.reading() as session:
        chosen = [_meeting(session, slug)] if slug else list_meetings(session)
        per_meeting, per_region = summarise(session, chosen)
    if as_json:
        echo_json(
            {
                "meetings": [summary.to_json() for summary in per_meeting],
                "regions": [summary.to_json() for summary in per_region],
            }
        )
        return
    language = cli_language()
    for key, rows in (("report.per_meeting", per_meeting), ("report.per_region", per_region)):
        click.echo(translate(key, language))
        for summary in rows:
            figures = (
                translate(
                    "cli.evaluation_figures",
                    language,
                    n=summary.count,
                    value=summary.value_avg,
                    knowledge=summary.knowledge_avg,
                    cooperation=summary.cooperation_yes,
                )
                if summary.count
                else translate("cli.evaluation_none", language)
            )
            click.echo(f"  {summary.label:<24} {figures}")
            for comment in summary.comments if key == "report.per_meeting" else ():
                click.echo(f"      “{comment}”")


@click.group()
def responses() -> None:
    """Answers to invitations."""


@responses.command("export")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Default: standard output.")
@click.option(
    "--delimiter",
    type=click.Choice([";", ","]),
    default=";",
    show_default=True,
    help="CSV separator (Swedish Excel expects ;).",
)
@pass_runtime
def export(runtime: Runtime, slug: str, fmt: str, output: Path | None, delimiter: str):
    """The attendee list: name, organisations, email, answer, guests, one column per question, comment, answered at."""
    language = runtime.settings.language
    with runtime.db.reading() as session:
        meeting = _meeting(session, slug)
        rows = attendee_rows(session, meeting, runtime.settings.timezone, language)
    data = to_xlsx(rows, meeting.slug, language) if fmt == "xlsx" else to_csv(rows, language, delimiter)
    if output is None:
        if fmt == "xlsx":
            fail(translate("cli.xlsx_needs_output", cli_language()))
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    output.write_bytes(data)
    echo_translated("cli.answers_written", n=len(rows), path=output, err=True)


@orgs.command("report")
@click.argument("slug")
@click.option("--send", is_flag=True, help="Also email it to the organisation's address (organisations.csv `email`).")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def report_(runtime: Runtime, slug: str, send: bool, as_json: bool):
    """Addresses of one organisation that bounced, unsubscribed or were rejected at import."""
    from mailer.tracking.org_report import queue_org_report

    with runtime.transaction() as session:
        try:
            report = org_report(session, slug, runtime.settings.timezone, runtime.settings.language)
        except LookupError as exc:
            fail(exc)
        if send:
            if not report.contact_email:
                fail(translate("cli.org_no_address", cli_language(), slug=slug))
            queue_org_report(session, runtime.settings, report)
    if as_json:
        echo_json(report.to_json())
    else:
        language = cli_language()
        echo_translated("cli.org_report_head", name=report.name, slug=report.slug, n=report.contacts)
        for key, items, fmt in (
            ("cli.org_report_bounced", report.bounced, lambda entry: f"{entry['email']}  {entry['detail'] or ''}"),
            (
                "cli.org_report_unsubscribed",
                report.unsubscribed,
                lambda entry: f"{entry['email']}  " + translate("cli.since", language, day=entry["since"]),
            ),
            (
                "cli.org_report_rejected",
                report.rejected,
                lambda entry: f"{entry['file']}:{entry['line']}: {entry['reason']}",
            ),
        ):
            title = translate(key, language)
            click.echo(f"\n{title}: {len(items)}")
            for item in items:
                click.echo(f"  {fmt(item)}")
    if send:
        click.echo(err=True)
        echo_translated("cli.org_report_queued", email=report.contact_email, err=True)


def _date(ctx, param, value):
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(translate("cli.not_a_date", cli_language(), value=value)) from None
    if not 2000 <= day.year <= 2999:
        raise click.BadParameter(translate("cli.date_range", cli_language(), value=value))
    return day


@click.command("report")
@click.option("--from", "start", callback=_date, metavar="YYYY-MM-DD")
@click.option("--to", "end", callback=_date, metavar="YYYY-MM-DD")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "json"]), default="md", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False))
@pass_runtime
def report(runtime: Runtime, start, end, fmt: str, output: Path | None):
    """The board report for a period: meetings, invitations, answers, participants, coverage, evaluations."""
    if start and end and start > end:
        raise click.BadParameter(
            translate("cli.from_after_to", cli_language(), start=start, end=end), param_hint="--from"
        )
    with runtime.db.reading() as session:
        data = board_report(session, runtime.settings, start, end, cli_language())
    if fmt == "json":
        import json

        text = json.dumps(data.to_json(), ensure_ascii=False, indent=2)
    else:
        text = to_html(data) if fmt == "html" else to_markdown(data)
    if output:
        output.write_text(text, encoding="utf-8")
        echo_translated("cli.report_written", path=output, err=True)
    else:
        click.echo(text)


STATUS_LABELS = ("invited", "bounced", "yes", "no", "waitlisted", "no_answer", "guests", "opened_not_answered")


@meetings.command("status")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def status(runtime: Runtime, slug: str, as_json: bool):
    """Where a meeting stands: answers, per organisation and region, coverage, attendance."""
    from mailer.tracking.status import full_status

    with runtime.db.reading() as session:
        meeting = _meeting(session, slug)
        data = {"slug": slug, "title": meeting.title, "capacity": meeting.capacity, **full_status(session, meeting)}
    if as_json:
        echo_json(data)
        return
    language = cli_language()

    def phrase(key: str, **values) -> str:
        return translate(f"cli.status.{key}", language, **values)

    click.echo(f"{slug}: {data['title']}" + (phrase("capacity", n=data["capacity"]) if data["capacity"] else ""))
    for key in STATUS_LABELS:
        click.echo(f"  {phrase(key):<28} {data[key]:>6}")
    if data["checked_in"]:
        click.echo(f"  {phrase('came'):<28} {data['checked_in']:>6}   " + phrase("walk_ins", n=data["walk_ins"]))
    click.echo("\n" + phrase("represented", n=data["organisations_represented"], total=data["organisations_total"]))
    if data["organisations_missing"]:
        click.echo(phrase("missing", names=", ".join(data["organisations_missing"])))
    header = (
        f"  {'':<40} {phrase('col_invited'):>7} {phrase('col_yes'):>5} {phrase('col_no'):>5} {phrase('col_wait'):>5} "
        f"{phrase('col_none'):>5} {phrase('col_bounced'):>7} {phrase('col_came'):>5}"
    )
    for key, rows in (("per_organisation", data["by_organisation"]), ("per_region", data["by_region"])):
        click.echo(f"\n{phrase(key)}\n{header}")
        for key, counts in rows.items():
            click.echo(
                f"  {counts.get('name', key)[:40]:<40} {counts['invited']:>7} {counts['yes']:>5} {counts['no']:>5} "
                f"{counts['waitlisted']:>5} {counts['no_answer']:>5} {counts['bounced']:>7} {counts['checked_in']:>5}"
            )
