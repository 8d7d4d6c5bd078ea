"""Campaign send: 20,000 invitations from `mailer campaigns send` into Postfix's smtp-sink.

Figures, all from this one run:
- send_msgs_per_s: recipients / wall time of `mailer campaigns send ID` (starting the campaign,
  building every message, SMTP, and every row's bookkeeping), SQLite in the instance folder;
- send_cpu_us_per_msg: CPU time of that command (every process it ran) per message: the
  send's own cost, which a busy machine changes less than it changes wall time;
- send_ceiling_msgs_per_s: what Postfix's smtp-source puts into the same sink over two reused
  connections with 15 KB messages, and send_ratio = the two divided;
- render_per_s: messages built a second by the sender's Composer (mail/compose.py), one core,
  no database, no SMTP;
- smtp_only_per_s: prebuilt messages a second through mailer's SMTP transport on one connection.
Usage: python bench/send.py [RECIPIENTS]
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance, ensure_tools, free_port, meeting_day, smtp_sink, smtp_source_rate, workspace  # noqa: E402

FIRST = ["Anna", "Björn", "Cecilia", "David", "Åsa", "Erik", "Fatima", "Göran", "Hanna", "Ingrid", "Jonas", "Karin"]
LAST = ["Andersson", "Berg", "Carlsson", "Dahl", "Ek", "Forsberg", "Gustafsson", "Holm", "Öberg", "Lindqvist"]


def contacts_csv(path: Path, count: int, org: str) -> None:
    lines = ["e-post;namn;roll;språk"]
    for i in range(count):
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}"
        lines.append(
            f"medlem{i}@{org}.example.org;{name};{'ordförande' if i % 50 == 0 else 'ledamot'};"
            f"{'en' if i % 10 == 0 else 'sv'}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def render_rate(instance: Instance, campaign_id: int) -> tuple[float, int]:
    """Messages the sender's Composer builds a second, one core, over the campaign's own recipients."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from mailer.campaigns.models import Campaign
    from mailer.contacts.models import Contact, Membership
    from mailer.mail.compose import Composer

    app = instance.app()
    db, settings, templates = (app.extensions[k] for k in ("mailer.db", "mailer.settings", "mailer.templates"))
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        meeting = campaign.meeting
        people = list(
            session.scalars(
                select(Contact)
                .limit(3000)
                .options(selectinload(Contact.memberships).selectinload(Membership.organisation))
            )
        )
    composer = Composer(settings, templates, "invitation", meeting)
    start = time.process_time()
    sizes = [len(composer.compose(c, True, f"<bench.{c.id}@ax.example.org>")) for c in people]
    rate = len(people) / (time.process_time() - start)
    db.dispose()
    return rate, sum(sizes) // len(sizes)


def smtp_only_rate(port: int, size: int, count: int = 5000) -> float:
    from mailer.mail.transport import SMTPTransport

    data = b"From: Ax <info@ax.example.org>\r\nTo: x@example.org\r\nSubject: bench\r\n\r\n" + b"".join(
        b"%075d\r\n" % i for i in range(size // 77)
    )
    transport = SMTPTransport(f"smtp://127.0.0.1:{port}")
    transport.connect()
    start = time.perf_counter()
    for i in range(count):
        transport.send("info@ax.example.org", f"medlem{i}@example.org", data, f"<bench.{i}@ax.example.org>")
    elapsed = time.perf_counter() - start
    transport.close()
    return count / elapsed


def children_cpu() -> float:
    """CPU seconds of the finished child processes (and theirs): the send's cost whatever the load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(recipients: int = 20_000) -> dict:
    ensure_tools()
    port = free_port()
    with workspace() as folder, smtp_sink(port):
        instance = Instance(
            folder, smtp_url=f"smtp://127.0.0.1:{port}", send_rate_per_minute=100_000_000, send_batch_size=500
        )
        contacts_csv(folder / "riksforbundet.csv", recipients, "riks")
        instance.mailer("contacts", "import", str(folder / "riksforbundet.csv"))
        instance.mailer(
            "meetings",
            "add",
            "--slug",
            "falun",
            "--title",
            "Dialogträff med Region Dalarna",
            "--region",
            "Dalarna",
            "--city",
            "Falun",
            "--host",
            "Region Dalarna",
            "--venue",
            "Dalarnas museum, Falun",
            "--starts",
            f"{meeting_day().isoformat()} 18:00",
            "--capacity",
            "400",
            "--rsvp-by",
            (meeting_day() - dt.timedelta(days=7)).isoformat(),
        )
        campaign_id = int(
            instance.mailer(
                "campaigns", "create", "--meeting", "falun", "--template", "invitation", "--all"
            ).stdout.strip()
        )
        render, size = render_rate(instance, campaign_id)
        ceiling = smtp_source_rate(port, recipients, size=15_000)
        smtp_only = smtp_only_rate(port, size)

        start, cpu_before = time.perf_counter(), children_cpu()
        instance.mailer("campaigns", "send", str(campaign_id), timeout=1800)
        elapsed, cpu = time.perf_counter() - start, children_cpu() - cpu_before
        status = json.loads(instance.mailer("campaigns", "status", str(campaign_id), "--json").stdout)
        if status["sent"] != recipients:
            raise RuntimeError(f"only {status['sent']} of {recipients} sent: {status}")
    send = recipients / elapsed
    return {
        "send_recipients": recipients,
        "send_seconds": round(elapsed, 2),
        "send_msgs_per_s": round(send),
        "send_cpu_us_per_msg": round(cpu / recipients * 1e6),
        "send_ceiling_msgs_per_s": round(ceiling),
        "send_ratio": round(send / ceiling, 3),
        "render_per_s": round(render),
        "smtp_only_per_s": round(smtp_only),
        "message_bytes": size,
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000), indent=2))
