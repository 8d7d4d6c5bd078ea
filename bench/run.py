"""`make bench`: every benchmark, each in its own process, one table, and bench/results.json.

Each figure is divided by a ceiling measured in the same run on the same machine, so the
ratios compare across machines where raw rates do not. A few minutes on 2 cores.
Usage: python bench/run.py [send|rsvp|rsvp_cost|import|status|contention|import_memory ...]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ensure_tools, machine  # noqa: E402

HERE = Path(__file__).resolve().parent
BENCHES = {
    "send": "send.py",
    "rsvp": "rsvp.py",
    "rsvp_cost": "rsvp_cost.py",
    "import": "import_contacts.py",
    "status": "status.py",
    "contention": "contention.py",
    "import_memory": "import_memory.py",
    "import_contention": "import_contention.py",
}
TARGETS = {"send_ratio": 0.15, "rsvp_ratio": 0.75, "import_ratio": 0.5, "import_batched_ratio": 0.5}
TIME_TARGETS_MS = {"status_ms": 1000, "digest_ms": 1000}
ROWS = [
    ("Campaign send (20,000 invitations)", "send_msgs_per_s", "send_ceiling_msgs_per_s", "send_ratio", "msg/s"),
    ("RSVP POST /r/<token> ÷ durable write", "rsvp_posts_per_s", "rsvp_floor_write_per_s", "rsvp_ratio", "req/s"),
    ("Import 100,000 contacts", "import_rows_per_s", "import_parse_rows_per_s", "import_ratio", "rows/s"),
    (
        "  the same, checked, then in batches",
        "import_batched_rows_per_s",
        "import_parse_rows_per_s",
        "import_batched_ratio",
        "rows/s",
    ),
]


def table(results: dict) -> str:
    lines = [f"{'benchmark':<38} {'rate':>10} {'ceiling':>10} {'ratio':>7} {'target':>7}"]
    for title, rate, ceiling, ratio, unit in ROWS:
        if ratio in results:
            mark = "ok" if results[ratio] >= TARGETS[ratio] else "BELOW"
            lines.append(
                f"{title:<38} {results[rate]:>10,} {results[ceiling]:>10,} {results[ratio]:>7.3f} "
                f"{'≥' + str(TARGETS[ratio]):>7} {mark}  ({unit})"
            )
    for key, limit in TIME_TARGETS_MS.items():
        if key in results:
            mark = "ok" if results[key] < limit else "OVER"
            lines.append(
                f"{key.replace('_ms', ' (100,000 invited, 1M history)'):<38} {results[key]:>8,.1f} ms "
                f"{'':>10} {'<' + str(limit) + ' ms':>15} {mark}"
            )
    if "render_per_s" in results:
        lines.append(
            f"  send: {results.get('send_cpu_us_per_msg', 0):,} µs of CPU a message (all processes); "
            f"one core: the Composer builds {results['render_per_s']:,} messages/s; SMTP alone "
            f"(mailer's transport, one connection) {results['smtp_only_per_s']:,}/s; "
            f"{results['message_bytes']:,} bytes a message"
        )
    if "rsvp_floor_per_s" in results:
        lines.append(
            f"  rsvp: a bare GET {results['rsvp_bare_per_s']:,}/s (answers ÷ it: "
            f"{results.get('rsvp_bare_ratio', 0):.3f}); a POST that only reads the form and session and "
            f"redirects {results['rsvp_floor_per_s']:,}/s; with one empty write transaction "
            f"{results['rsvp_floor_commit_per_s']:,}/s; the durable-write floor (one row committed) "
            f"{results.get('rsvp_floor_write_per_s', 0):,}/s"
        )
    if "rsvp_cost_ratio" in results:
        lines.append(
            f"  rsvp in CPU instructions (callgrind, one process, no HTTP server): an answer "
            f"{results['rsvp_cost_answer_instructions']:,}, the durable-write floor "
            f"{results['rsvp_cost_floor_instructions']:,}: ratio {results['rsvp_cost_ratio']:.3f}; of the "
            f"answer, the rate limit {results['rsvp_cost_rate_limit_instructions']:,} and the CSRF check "
            f"{results['rsvp_cost_csrf_instructions']:,}; the floor behind only an answer's checks (rate limit, "
            f"CSRF, signed link) {results['rsvp_cost_checked_floor_instructions']:,}: ratio "
            f"{results['rsvp_cost_best_ratio']:.3f}, the most an answer writing one row could reach; one more statement "
            f"through SQLAlchemy {results['rsvp_cost_statement_instructions']:,}"
        )
    if "rsvp_scaled_ratio" in results:
        lines.append(
            f"  rsvp scaled out (PostgreSQL, Redis limits): {results['rsvp_scaled_1_worker_per_s']:,}/s with "
            f"1 worker, {results['rsvp_scaled_4_workers_per_s']:,}/s with 4: ratio "
            f"{results['rsvp_scaled_ratio']:.2f} on {results['rsvp_scaled_cores']} cores (goal ≥ 3 on 4 cores)"
        )
    elif "rsvp_scaled_skipped" in results:
        lines.append(f"  rsvp scaled out: skipped ({results['rsvp_scaled_skipped']})")
    if "contention_get_p95_ms" in results:
        worst = max(results["contention_get_p95_ms"], results["contention_post_p95_ms"])
        mark = "ok" if worst < results["contention_goal_ms"] and not results["contention_failures"] else "OVER"
        lines.append(
            f"{'RSVP while staff work (p95 GET / POST)':<38} {results['contention_get_p95_ms']:>6,.0f} / "
            f"{results['contention_post_p95_ms']:,.0f} ms, {results['contention_failures']} failed "
            f"{'<' + str(results['contention_goal_ms']) + ' ms':>8} {mark}"
        )
    if "import_contention_batched_get_max_ms" in results:
        lines.append(
            f"{'RSVP during a 100,000-row import (max GET / POST)':<38} "
            f"{results['import_contention_batched_get_max_ms']:,.0f} / "
            f"{results['import_contention_batched_post_max_ms']:,.0f} ms in batches; in one transaction "
            f"{results['import_contention_one_transaction_get_max_ms']:,.0f} / "
            f"{results['import_contention_one_transaction_post_max_ms']:,.0f} ms"
        )
    if "import_memory_peak_mb" in results:
        mark = "ok" if results["import_memory_peak_mb"] < results["import_memory_goal_mb"] else "OVER"
        lines.append(
            f"{'Import memory, 1,000,000 rows (3 files)':<38} {results['import_memory_peak_mb']:>7,} MB "
            f"{'':>10} {'<' + str(results['import_memory_goal_mb']) + ' MB':>15} {mark}"
        )
        lines.append(
            f"  import memory: peak RSS of `mailer contacts import` ({results['import_memory_rows']:,} rows in "
            f"{results['import_memory_files']} files, {results['import_memory_seconds']} s, "
            f"{results['import_memory_rows_per_s']:,} rows/s); the same command on 1,000 rows: "
            f"{results['import_memory_baseline_mb']} MB"
        )
    if "calibration_signs_per_s" in results:
        lines.append(
            f"  this machine's Python: itsdangerous signs {results['calibration_signs_per_s']:,} tokens/s "
            f"(the figures the targets were set by: ~{REFERENCE_SIGNS_PER_S:,}/s), while C code (the "
            f"ceilings) is not slowed the same way: compare ratios across machines with this in mind"
        )
    return "\n".join(lines)


REFERENCE_SIGNS_PER_S = 43_000  # "itsdangerous signs ~43,000 tokens a second" on the machine the targets came from


def calibration() -> dict:
    """How fast this machine runs plain Python work, by a figure the targets were stated with.

    Why: every ratio divides Python work by a ceiling measured with C tools (smtp-source, a
    bare endpoint behind gunicorn); on a machine whose Python is several times slower than
    the reference while its C is not, every ratio is lower by that much.
    """
    import time

    from itsdangerous import URLSafeSerializer

    serializer, best = URLSafeSerializer("bench-secret-key", salt="bench"), 0.0
    for _ in range(3):
        start, count = time.perf_counter(), 20_000
        for i in range(count):
            serializer.dumps(["abcdefghijklmnop", i])
        best = max(best, count / (time.perf_counter() - start))
    return {"calibration_signs_per_s": round(best)}


def main(names: list[str]) -> int | str:
    ensure_tools()
    results: dict = {
        "machine": machine(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "load_average_at_start": [round(v, 1) for v in os.getloadavg()],
        **calibration(),
    }
    for name in names or list(BENCHES):
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, str(HERE / BENCHES[name])], capture_output=True, text=True, timeout=1200)
        if done.returncode:  # what went wrong is on the benchmark's stderr
            print(done.stderr[-3000:], file=sys.stderr)
            return f"bench: {name} failed (exit status {done.returncode})"
        results.update(json.loads(done.stdout))
    path = HERE / "results.json"
    previous = json.loads(path.read_text()) if path.exists() and names else {}
    path.write_text(json.dumps({**previous, **results}, indent=2, ensure_ascii=False) + "\n")
    print(f"{results['machine']}\n{table(results)}\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
