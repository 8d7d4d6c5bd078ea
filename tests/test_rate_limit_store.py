"""The rate limits' store failing for real: nothing listening on its port, a server that takes
the connection and never answers, and a real Redis started where there was none. The pages stay
up, limits are still kept (in the process's memory), a 429 still says when to come back, one
request at a time tries the store again, and counting goes back to the store once it answers.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import wait_until
from rsvp_fixtures import links_for
from smtp_server import free_port

from mailer.web.ratelimit import STORE_TIMEOUT_S, Budget, RateLimited, RateLimits

LOGGER = "mailer.web.ratelimit"


def warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER and record.levelname == "WARNING"]


def test_a_refused_store_counts_in_memory_and_the_page_stays_up(app, test_config, person, make_meeting, caplog):
    from mailer.app import create_app

    path = links_for(app, person("anna@example.org"), make_meeting().id)["rsvp_url"]
    settings = {"public_rate_limit": "3 per minute", "ratelimit_storage_url": f"redis://127.0.0.1:{free_port()}/0"}
    cut_off = create_app({**test_config, **settings})
    try:
        client = cut_off.test_client()
        with caplog.at_level("WARNING", logger=LOGGER):
            replies = [client.get(path) for _ in range(4)]
        assert [reply.status_code for reply in replies] == [200, 200, 200, 429]
        assert 1 <= int(replies[-1].headers["Retry-After"]) <= 60
        assert len(warnings(caplog)) == 1 and "rate-limit store unreachable" in warnings(caplog)[0]
    finally:
        cut_off.extensions["mailer.db"].dispose()


@pytest.fixture
def silent_server():
    """A port that takes connections and never answers (a hung Redis)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes the handshakes; nobody ever reads
        yield listener.getsockname()[1]


def test_a_hung_store_costs_one_request_its_timeout_and_one_try_each_window(silent_server, caplog):
    budget = Budget.parse("public", "1000000 per minute")
    limits = RateLimits(f"redis://127.0.0.1:{silent_server}/0", store_retry_s=1.0)
    with caplog.at_level("INFO", logger=LOGGER):
        started = time.monotonic()
        limits.check(budget, "198.51.100.7")  # waits for the store once, then counts in memory
        assert time.monotonic() - started < 5  # the client's own default would be 5 s, or forever
        assert len(warnings(caplog)) == 1
        window_ends = limits.store_back_at
        while time.monotonic() < window_ends - 0.5:  # most of the retry window
            limits.check(budget, "198.51.100.7")  # in memory meanwhile: no new try, no new warning
        assert len(warnings(caplog)) == 1
        wait_until(lambda: time.monotonic() >= window_ends, what="the retry window's end")
        with ThreadPoolExecutor(max_workers=8) as pool:  # a wave of requests when the window ends
            list(pool.map(lambda _: limits.check(budget, "198.51.100.7"), range(8)))
    assert len(warnings(caplog)) == 2  # one of them tried the store, the others kept to memory
    assert STORE_TIMEOUT_S < 1


def reachable(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_a_store_that_comes_back_is_used_again(caplog):
    server_binary = shutil.which("redis-server")
    if server_binary is None:
        pytest.skip("needs redis-server (Debian: apt-get install redis-server)")
    import redis

    port = free_port()
    budget = Budget.parse("public", "3 per minute")
    limits = RateLimits(f"redis://127.0.0.1:{port}/0", store_retry_s=0.0)
    with caplog.at_level("INFO", logger=LOGGER):
        limits.check(budget, "198.51.100.8")  # nobody there yet: counted in memory
        assert len(warnings(caplog)) == 1
        server = subprocess.Popen(
            [server_binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            wait_until(lambda: reachable(client), timeout=30, what="redis-server to answer")
            limits.check(budget, "198.51.100.8")  # tried again, and counted there
            assert int(client.get("LIMITS:LIMITER/198.51.100.8/public/3/1/minute")) == 1
            assert "rate-limit store reachable again" in caplog.text
            limits.check(budget, "198.51.100.8")
            limits.check(budget, "198.51.100.8")
            with pytest.raises(RateLimited):  # the store's count: 3 there, the one in memory aside
                limits.check(budget, "198.51.100.8")
            client.close()
        finally:
            server.terminate()
            server.wait()
