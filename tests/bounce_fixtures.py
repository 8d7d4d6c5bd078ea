"""Fixtures and helpers for the bounce tests: contacts who were really sent mail with a tagged
envelope sender (through the aiosmtpd test server), and Maildirs of delivery reports.

Registered as a pytest plugin from conftest.py: the `sent` fixture needs no import; import
`BOUNCE_ADDRESS`, `report_bytes`, ... by name. A module using them also
overrides `test_config` and `cli_env` with `with_bounce_address` (see test_bounces.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailer.campaigns import service
from mailer.campaigns.audience import Audience
from mailer.contacts.importer import import_lists
from mailer.worker.sender import Sender

DATA = Path(__file__).parent / "data" / "bounces"
BOUNCE_ADDRESS = "bounces@ax.example.org"
PLACEHOLDER = "VERPTAG"

# The people the reports in tests/data/bounces/ are about, in their member organisations.
LISTS = {
    "korforbundet.csv": ["anna.lind@korforbundet.example.se", "karin.ljung@korforbundet.example.se"],
    "musikforbundet.csv": ["bo.ek@musikforbundet.example.se", "david.berg@gmail.example.com"],
    "teaterforbundet.csv": ["cilla.holm@teaterforbundet.example.se", "jonas.kvist@mailbox.example.com"],
    "slojdforeningen.csv": ["eva.nord@slojdforeningen.example.se", "ivar.dahl@gmail.example.com"],
    "folkdans.csv": ["frida.ost@folkdans.example.se", "helena.sand@dansforbundet.example.se"],
    "konstnarer.csv": ["gustav.alm@konstnarer.example.se"],
}
ORGANISATIONS = "slug,name,region\n" + "".join(f"{name[:-4]},{name[:-4].capitalize()},Sörmland\n" for name in LISTS)


def with_bounce_address(values: dict) -> dict:
    return (
        {**values, "bounce_address": BOUNCE_ADDRESS}
        if "instance_path" in values
        else {**values, "MAILER_BOUNCE_ADDRESS": BOUNCE_ADDRESS}
    )


@pytest.fixture
def sent(db, app, settings, smtp_server, make_csv, make_meeting) -> dict[str, str]:
    """Everyone in LISTS invited through the SMTP test server: address -> the tag their
    message's envelope sender carried (read off the SMTP transaction, not computed)."""
    make_csv("organisations.csv", ORGANISATIONS)  # read beside the lists: the organisations' names
    paths = [
        make_csv(
            name, "email,name\n" + "".join(f"{a},{a.split('@')[0].replace('.', ' ').title()}\n" for a in addresses)
        )
        for name, addresses in LISTS.items()
    ]
    with db.transaction() as session:
        import_lists(session, paths)
    meeting = make_meeting(slug="eskilstuna", city="Eskilstuna")
    with db.transaction() as session:
        campaign = service.create_campaign(
            session,
            settings,
            app.extensions["mailer.templates"],
            meeting_slug=meeting.slug,
            template="invitation",
            audience=Audience(all=True),
        )
        service.start(session, campaign)
        campaign_id = campaign.id
    sender = Sender(
        db,
        settings.with_overrides(smtp_url=smtp_server.url, send_rate_per_minute=60_000),
        app.extensions["mailer.templates"],
    )
    try:
        while sender.run_once(campaign_id).claimed:
            pass
    finally:
        sender.close()
    tags = {}
    for received in smtp_server.received:
        local, _, domain = received.envelope_from.partition("@")
        assert domain == "ax.example.org" and local.startswith("bounces+")
        tags[received.envelope_to[0].lower()] = local.removeprefix("bounces+")
    return tags


def report_bytes(name: str, tag: str | None = None) -> bytes:
    """A report from tests/data/bounces/ with our envelope sender's tag put in (or left as it is)."""
    data = (DATA / name).read_bytes()
    return data.replace(PLACEHOLDER.encode(), tag.encode()) if tag is not None else data


def make_maildir(folder: Path) -> Path:
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def deliver(maildir: Path, name: str, data: bytes) -> Path:
    """Put a message into new/ the way a delivery agent does (tmp/, then renamed)."""
    temporary = maildir / "tmp" / name
    temporary.write_bytes(data)
    path = maildir / "new" / name
    temporary.rename(path)
    return path
