"""`mailer questions`: a meeting's or series' own questions (diet, accessibility and whatever staff add)."""

from __future__ import annotations

import click

from mailer.audit.log import cli_actor
from mailer.cli.runtime import Runtime, echo_json, echo_translated, fail, pass_runtime
from mailer.errors import DomainError
from mailer.staff import question_actions

OWNER = click.option("--series", "in_series", is_flag=True, help="SLUG names a series, not a meeting.")


@click.group("questions")
def questions() -> None:
    """Questions a meeting (or series) asks besides yes/no and guests."""


def _owner(in_series: bool) -> str:
    return "series" if in_series else "meetings"


@questions.command("list")
@click.argument("slug")
@OWNER
@click.option("--json", "as_json", is_flag=True)
@pass_runtime
def list_(runtime: Runtime, slug: str, in_series: bool, as_json: bool) -> None:
    """The questions in the order they are asked; FIELD is what `remove` takes."""
    with runtime.transaction() as session:
        try:
            _, found = question_actions.questions(session, _owner(in_series), slug)
        except DomainError as exc:
            fail(exc)
        rows = [
            {
                "field": q.field,
                "kind": q.kind.value,
                "label_sv": q.label_sv,
                "label_en": q.label_en,
                "options": q.options,
                "required": q.required,
                "default": q.is_default,
            }
            for q in found
        ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        echo_translated("cli.questions_none", slug=slug)
    for row in rows:
        if row["required"]:
            echo_translated("cli.question_line_required", field=row["field"], kind=row["kind"], label=row["label_sv"])
        else:
            echo_translated("cli.question_line", field=row["field"], kind=row["kind"], label=row["label_sv"])


@questions.command("add")
@click.argument("slug")
@OWNER
@click.option("--label-sv", required=True, help="The question in Swedish.")
@click.option("--label-en", default="", help="The question in English (default: the Swedish text).")
@click.option("--kind", type=click.Choice(["text", "choice", "multi", "yesno"]), default="text", show_default=True)
@click.option("--option", "options", multiple=True, help='An option, "Svenska|English" (repeat; choice and multi).')
@click.option("--required", is_flag=True, help="A yes must answer it.")
@pass_runtime
def add(
    runtime: Runtime,
    slug: str,
    in_series: bool,
    label_sv: str,
    label_en: str,
    kind: str,
    options: tuple[str, ...],
    required: bool,
) -> None:
    """Add a question; it is asked last."""
    swedish = "\n".join(option.split("|", 1)[0] for option in options)
    english = "\n".join(option.split("|", 1)[1] if "|" in option else "" for option in options)
    with runtime.transaction() as session:
        try:
            added = question_actions.add(
                session,
                cli_actor(),
                _owner(in_series),
                slug,
                label_sv=label_sv,
                label_en=label_en,
                kind=kind,
                options_sv=swedish,
                options_en=english,
                required=required,
            )
        except DomainError as exc:
            fail(exc)
        field = added.field
    echo_translated("cli.question_added", field=field, slug=slug)


@questions.command("remove")
@click.argument("slug")
@click.argument("field")
@OWNER
@pass_runtime
def remove(runtime: Runtime, slug: str, field: str, in_series: bool) -> None:
    """Remove the question FIELD (see `list`), and the answers given to it."""
    with runtime.transaction() as session:
        try:
            question_actions.remove(session, cli_actor(), _owner(in_series), slug, field)
        except DomainError as exc:
            fail(exc)
    echo_translated("cli.question_removed", field=field, slug=slug)
