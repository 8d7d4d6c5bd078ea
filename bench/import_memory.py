"""Import memory: peak resident memory of `mailer contacts import` over three CSV files
totalling 1,000,000 rows, in a subprocess (the kernel's own figure: getrusage of the
children, ru_maxrss), against the goal of issue 18: under 400 MB, whatever the row count.

The baseline, `mailer contacts import` of a 1,000-row file in the same run, shows what
Python, SQLAlchemy and the app cost before any row.

Usage: python bench/import_memory.py [ROWS]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Instance, workspace  # noqa: E402
from send import contacts_csv  # noqa: E402

GOAL_MB = 400
FILES = ("riksforbundet", "amatorteatern", "korforbundet")


def peak_rss_mb(instance: Instance, *args: str) -> tuple[float, float]:
    """Peak RSS (MB) and wall time (s) of one `mailer` command run in a fresh subprocess.

    ru_maxrss of RUSAGE_CHILDREN is the largest of all waited-for children, so each
    measurement runs from its own short-lived Python parent."""
    probe = (
        "import resource, subprocess, sys, time; start = time.perf_counter(); "
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - start, code)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "mailer", *args],
        cwd=instance.folder,
        env=instance.env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if int(out[2]) not in (0, 1):
        raise RuntimeError(f"mailer {' '.join(args)} exited {out[2]}")
    return int(out[0]) / 1024, float(out[1])  # Linux reports KiB


def run(rows: int = 1_000_000) -> dict:
    with workspace() as folder:
        instance = Instance(folder)
        small = folder / "lists-small"
        small.mkdir()
        contacts_csv(small / "liten.csv", 1_000, "liten")
        baseline_mb, _ = peak_rss_mb(instance, "contacts", "import", str(small / "liten.csv"))
        lists = folder / "lists"
        lists.mkdir()
        paths = []
        for index, name in enumerate(FILES):
            count = rows // len(FILES) + (1 if index < rows % len(FILES) else 0)
            contacts_csv(lists / f"{name}.csv", count, name[:6])
            paths.append(str(lists / f"{name}.csv"))
        peak_mb, seconds = peak_rss_mb(instance, "contacts", "import", *paths)
    return {
        "import_memory_rows": rows,
        "import_memory_files": len(FILES),
        "import_memory_peak_mb": round(peak_mb),
        "import_memory_baseline_mb": round(baseline_mb),
        "import_memory_seconds": round(seconds, 1),
        "import_memory_rows_per_s": round(rows / seconds),
        "import_memory_goal_mb": GOAL_MB,
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=2))
