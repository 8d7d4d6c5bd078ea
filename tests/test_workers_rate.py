"""The sending rate is shared by every process sending through one database (one row holds
the next free slot), on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import statistics
import threading
import time

from mailer.outbox.ratelimit import SharedRateLimiter


def next_slot(limiter: SharedRateLimiter, upcoming: int) -> float:
    """The slot the limiter's next wait() uses (sleeping is recorded, not done)."""
    limiter.delay(upcoming)
    slot = limiter.slots[0]
    limiter.wait(upcoming)
    return slot


def test_two_senders_get_slots_one_interval_apart(db):
    a, b = (SharedRateLimiter(db, per_minute=600, sleep=lambda _seconds: None) for _ in range(2))
    alternating = [next_slot(a if turn % 2 == 0 else b, upcoming=1) for turn in range(12)]
    gaps = [later - earlier for earlier, later in itertools.pairwise(alternating)]
    # Never closer than the interval (give or take the clock conversion each reservation makes, see
    # mailer.outbox.ratelimit); further apart only when the machine stalled between two calls for
    # longer than it (the next slot is then "now"), so most gaps are the interval itself.
    assert all(gap > 0.1 - 0.02 for gap in gaps), gaps
    assert abs(statistics.median(gaps) - 0.1) < 0.02, gaps

    # A sender expecting five messages reserves five slots in one go; the other queues behind them.
    first_of_a = next_slot(a, upcoming=5)
    first_of_b = next_slot(b, upcoming=5)
    assert 5 * 0.1 - 0.02 < first_of_b - first_of_a < 5 * 0.1 + 0.5  # behind all five (later only on a stall)
    assert a.reservations == 7 and b.reservations == 7  # six single slots each, then one run of five


def test_senders_in_two_threads_together_keep_to_the_rate(db):
    per_minute, each = 1200, 15  # 20 a second; 30 messages in all
    sent: list[float] = []
    lock = threading.Lock()

    def sender() -> None:
        limiter = SharedRateLimiter(db, per_minute)
        for left in range(each, 0, -1):
            limiter.wait(upcoming=left)
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    sent.sort()
    assert len(sent) == 2 * each
    interval = 60 / per_minute
    # Alone, each sender would finish in 14 intervals; together they need 29.
    assert sent[-1] - sent[0] >= (2 * each - 1) * interval * 0.9
    # And no second has more than the rate (plus one for a slot at its very edge).
    assert max(sum(1 for t in sent if start <= t < start + 1) for start in sent) <= 60 / interval / 60 + 1
