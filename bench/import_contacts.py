"""Import: 100,000 contacts from one CSV file into a fresh database, rows a second, divided by
the rate of parsing and validating the same file (csvfile.parse: decoding, headers, address
checks) without touching the database. Both in this process, one after the other. The import is
measured in one transaction (`import_lists`) and as the command runs it (`import_in_batches`: the
file checked whole, then written 2,000 rows per transaction), the second into a fresh instance.

Usage: python bench/import_contacts.py [ROWS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance, workspace  # noqa: E402
from send import contacts_csv  # noqa: E402


def run(rows: int = 100_000) -> dict:
    from mailer.contacts.batched import import_in_batches
    from mailer.contacts.csvfile import parse
    from mailer.contacts.importer import import_lists

    with workspace() as folder:
        path = folder / "riksforbundet.csv"
        contacts_csv(path, rows, "riks")
        start = time.perf_counter()
        parsed = parse(path)
        parse_seconds = time.perf_counter() - start
        assert len(parsed.rows) == rows, (len(parsed.rows), parsed.rejected[:3])

        app = Instance(folder).app()
        db = app.extensions["mailer.db"]
        start = time.perf_counter()
        with db.transaction() as session:
            report = import_lists(session, [path])
        import_seconds = time.perf_counter() - start
        db.dispose()
        imported = report.files[0].imported
        if imported != rows:
            raise RuntimeError(f"{imported} of {rows} rows imported")
        # As the command and the upload page import: the file checked whole, then written in batches.
        (folder / "batched").mkdir()
        db = Instance(folder / "batched").app().extensions["mailer.db"]
        start = time.perf_counter()
        import_in_batches(db, [path])
        batched_seconds = time.perf_counter() - start
        db.dispose()
    return {
        "import_batched_rows_per_s": round(rows / batched_seconds),
        "import_batched_ratio": round(parse_seconds / batched_seconds, 3),
        "import_rows": rows,
        "import_seconds": round(import_seconds, 2),
        "import_rows_per_s": round(rows / import_seconds),
        "import_parse_rows_per_s": round(rows / parse_seconds),
        "import_ratio": round(parse_seconds / import_seconds, 3),
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000), indent=2))
