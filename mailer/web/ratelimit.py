"""Rate limits per client address (or API token), on the `limits` library.

Why `limits` directly and not Flask-Limiter (which is built on it): every public page, the
RSVP answer above all, paid Flask-Limiter's per-request work of finding which limits apply
(parsing the limit strings again, walking blueprint exemptions, building header values), which
measured as a tenth of an answer POST's CPU (bench/rsvp_cost.py, docs/performance.md), three
times what the counting itself costs. Here each budget is parsed once and a request makes one
`hit()` per limit in it.

Counters live in `ratelimit_storage_url`: memory:// holds them per process, a shared store
(redis://) across processes and hosts. A store that fails (refuses, times out after
STORE_TIMEOUT_S, or errs in any other way) must not take the answer pages down with it: limits
are then counted in this process's memory, and after STORE_RETRY_S one request at a time tries
the store again while the others keep counting in memory. A warning is logged for each failed
try (at most one every STORE_RETRY_S), and its recovery once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from mailer.config import ConfigError, env_name

log = logging.getLogger(__name__)
STORE_RETRY_S = 30.0
STORE_TIMEOUT_S = 0.5  # a hung Redis costs a request this long, not the client's default (5 s or forever)
_REDIS_CLIENTS = (
    "redis",
    "rediss",
    "redis+unix",
    "redis+cluster",
    "valkey",
    "valkeys",
    "valkey+unix",
    "valkey+cluster",
)


class RateLimited(TooManyRequests):
    """A budget is spent: 429 with Retry-After, the seconds until its window starts again."""


@dataclass(frozen=True)
class Budget:
    """Limits such as '120 per minute;1000 per hour', counted together under `scope` (or one
    the caller names per request, e.g. the endpoint, for a budget each page has for itself)."""

    scope: str
    items: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, scope: str, limits: str) -> Budget:
        return cls(scope, tuple(parse_many(limits)))


class RateLimits:
    """The app's counters: one store, and this process's memory while the store fails."""

    def __init__(self, storage_url: str, store_retry_s: float = STORE_RETRY_S):
        scheme = storage_url.split("://", 1)[0]
        timeouts = (
            {"socket_timeout": STORE_TIMEOUT_S, "socket_connect_timeout": STORE_TIMEOUT_S}
            if scheme in _REDIS_CLIENTS
            else {}
        )
        try:
            self.store = FixedWindowRateLimiter(storage_from_string(storage_url, wrap_exceptions=True, **timeouts))
        except ConfigurationError as exc:
            raise ConfigError(env_name("ratelimit_storage_url"), str(exc)) from None
        self.memory = FixedWindowRateLimiter(storage_from_string("memory://"))
        self.store_retry_s = store_retry_s
        self.store_back_at = 0.0  # 0: the store works; else the monotonic time it is tried again
        self.lock = threading.Lock()

    def check(self, budget: Budget, key: str, scope: str | None = None) -> None:
        """Count one request against each limit of `budget` for `key`; RateLimited when one is spent."""
        counter, trying_again = self._counter()
        try:
            _count(counter, budget, key, scope or budget.scope)
        except RateLimited:
            raise
        except Exception as exc:  # noqa: BLE001 (whatever the store's client raises: count in memory)
            if counter is self.memory:
                raise
            self._store_failed(exc, trying_again)
            _count(self.memory, budget, key, scope or budget.scope)
        else:
            if trying_again:
                with self.lock:
                    self.store_back_at = 0.0
                log.info("rate-limit store reachable again")

    def _counter(self) -> tuple[FixedWindowRateLimiter, bool]:
        """The store, unless it failed lately; then memory, except for the one request that tries it again."""
        if not self.store_back_at:
            return self.store, False
        with self.lock:
            now = time.monotonic()
            if not self.store_back_at:  # recovered meanwhile
                return self.store, False
            if now < self.store_back_at:
                return self.memory, False
            self.store_back_at = now + self.store_retry_s  # this request tries; the others keep to memory
            return self.store, True

    def _store_failed(self, exc: Exception, trying_again: bool) -> None:
        with self.lock:
            if trying_again or not self.store_back_at:  # not every request caught in the same outage
                log.warning(
                    "rate-limit store unreachable (%s); counting in memory, trying again in %ss",
                    exc,
                    self.store_retry_s,
                )
            self.store_back_at = time.monotonic() + self.store_retry_s


def _count(counter: FixedWindowRateLimiter, budget: Budget, key: str, scope: str) -> None:
    """Counted under LIMITER/<key>/<scope>/<limit>, the keys Flask-Limiter used: a store's counters
    carry on across the upgrade."""
    for item in budget.items:
        if not counter.hit(item, key, scope):
            reset_at = counter.get_window_stats(item, key, scope).reset_time
            raise RateLimited(retry_after=max(1, math.ceil(reset_at - time.time())))
