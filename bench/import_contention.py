"""Recipients while a 100,000-row list is imported (issue 18): the slowest and the 95th percentile
of recipients' answer-page GETs and answer POSTs on a real `mailer serve` (SQLite, one process,
8 threads) while `mailer contacts import` runs, against the same import in one transaction
(`import_lists` in one `Database.transaction()`, as every import ran before), in the same run.

Usage: python bench/import_contention.py [ROWS]
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from common import Instance, free_port, serving, workspace  # noqa: E402
from contention import set_up  # noqa: E402
from contention_load import Outcome  # noqa: E402
from helpers import CSRF, Browser  # noqa: E402
from send import contacts_csv  # noqa: E402

ONE_TRANSACTION = """
import sys
from pathlib import Path
from mailer.app import create_app
from mailer.contacts.importer import import_lists
db = create_app().extensions["mailer.db"]
with db.transaction() as session:
    import_lists(session, [Path(sys.argv[1])])
"""


def answering_during(base: str, paths: list[str], command: list[str], env: dict, folder: Path) -> tuple[Outcome, float]:
    """Two recipients open and answer, one request after the other, for as long as `command` runs."""
    outcome, lock, started = Outcome(), threading.Lock(), time.monotonic()
    importer = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def recipient(number: int) -> None:
        index = number
        while importer.poll() is None:
            path = paths[index % len(paths)]
            index += 2
            client = Browser(base, timeout=600)
            begun = time.monotonic()
            status, page = client.get(path)
            got = time.monotonic()
            match = CSRF.search(page)
            if status != 200 or match is None:
                outcome.failures.append(f"GET {status}")
                continue
            status, _ = client.post(path, {"csrf_token": match.group(1), "answer": "yes"})
            with lock:
                if status not in (200, 303):
                    outcome.failures.append(f"POST {status}")
                outcome.gets.append(got - begun)
                outcome.posts.append(time.monotonic() - got)

    threads = [threading.Thread(target=recipient, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    _, errors = importer.communicate()
    for thread in threads:
        thread.join()
    if importer.returncode != 0:
        raise RuntimeError(f"{command}: {importer.returncode}\n{errors.decode()[-2000:]}")
    return outcome, time.monotonic() - started


def run(rows: int = 100_000) -> dict:
    port = free_port()
    results: dict = {"import_contention_rows": rows}
    with workspace() as folder:
        instance = Instance(folder, base_url=f"http://127.0.0.1:{port}", public_rate_limit="100000000 per minute")
        paths = set_up(instance, folder)
        with serving(instance, port):
            base = f"http://127.0.0.1:{port}"
            for name, org, command in (
                ("batched", "riks", [sys.executable, "-m", "mailer", "contacts", "import"]),
                ("one_transaction", "forbund", [sys.executable, "-c", ONE_TRANSACTION]),
            ):
                path = folder / f"{org}.csv"
                contacts_csv(path, rows, org)
                outcome, seconds = answering_during(base, paths, [*command, str(path)], instance.env, folder)
                results.update(
                    {
                        f"import_contention_{name}_get_max_ms": round(max(outcome.gets) * 1000, 1),
                        f"import_contention_{name}_get_p95_ms": round(Outcome.p95(outcome.gets) * 1000, 1),
                        f"import_contention_{name}_post_max_ms": round(max(outcome.posts) * 1000, 1),
                        f"import_contention_{name}_post_p95_ms": round(Outcome.p95(outcome.posts) * 1000, 1),
                        f"import_contention_{name}_answers": len(outcome.posts),
                        f"import_contention_{name}_failures": len(outcome.failures),
                        f"import_contention_{name}_seconds": round(seconds, 1),
                    }
                )
    return results


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
