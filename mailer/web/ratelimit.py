"""Rate limits per client address (or API token), on the `limits` library.

Why `limits` directly and not Flask-Limiter (which is built on it): every public page, the
RSVP answer above all, paid Flask-Limiter's per-request work of finding which limits apply
(parsing the limit strings again, walking blueprint exemptions, building header values), which
measured as a tenth of an answer POST's CPU (bench/rsvp.py, docs/performance.md), three times
what the counting itself costs. Here each budget is parsed once and a request makes one
`hit()` per limit in it.

Counters live in `ratelimit_storage_url`: memory:// holds them per process, a shared store
(redis://) across processes and hosts. When the shared store is unreachable, limits are
counted in this process's memory instead and the store is tried again after STORE_RETRY_S (a
warning each time it is found unreachable, so at most one every STORE_RETRY_S): a cache outage
must not take the answer pages down with it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError, StorageError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from mailer.config import ConfigError, env_name

log = logging.getLogger(__name__)
STORE_RETRY_S = 30.0


class RateLimited(TooManyRequests):
    """A budget is spent: 429 with Retry-After, the seconds until its window starts again."""


@dataclass(frozen=True)
class Budget:
    """Limits such as '120 per minute;1000 per hour' counted together under one name (`scope`)."""

    scope: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, scope: str, limits: str) -> Budget:
        return cls(scope, tuple(parse_many(limits)))


class RateLimits:
    """The app's counters: one store, and this process's memory when the store is out of reach."""

    def __init__(self, storage_url: str):
        try:
            self.counter = FixedWindowRateLimiter(storage_from_string(storage_url, wrap_exceptions=True))
        except ConfigurationError as exc:
            raise ConfigError(env_name("ratelimit_storage_url"), str(exc)) from None
        self.fallback = FixedWindowRateLimiter(storage_from_string("memory://"))
        self.store_back_at = 0.0  # monotonic time from which the store is tried again
        self.lock = threading.Lock()

    def check(self, budget: Budget, key: str) -> None:
        """Count one request against each limit of `budget` for `key`; RateLimited when one is spent."""
        counter = self.counter if time.monotonic() >= self.store_back_at else self.fallback
        try:
            self._count(counter, budget, key)
        except StorageError as exc:
            with self.lock:
                if time.monotonic() >= self.store_back_at:
                    log.warning("rate-limit store unreachable (%s); counting in memory for %ss", exc, STORE_RETRY_S)
                self.store_back_at = time.monotonic() + STORE_RETRY_S
            self._count(self.fallback, budget, key)

    @staticmethod
    def _count(counter: FixedWindowRateLimiter, budget: Budget, key: str) -> None:
        """Counted under LIMITER/<key>/<scope>/<limit>, the keys Flask-Limiter used: a store's counters
        carry on across the upgrade."""
        for item in budget.items:
            if not counter.hit(item, key, budget.scope):
                reset_at = counter.get_window_stats(item, key, budget.scope).reset_time
                raise RateLimited(retry_after=max(1, math.ceil(reset_at - time.time())))
