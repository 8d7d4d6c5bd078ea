"""Moves the clock of every Python process the tests start when TEST_CLOCK_OFFSET_DAYS is set.

Why: the suite must keep passing years from now. tests/conftest.py puts this folder on
PYTHONPATH when that variable is set, so `mailer worker` and `mailer serve` subprocesses see
the same shifted wall clock as the test process (time-machine, ticking; the monotonic clock,
which timeouts and sleeps use, stays real). Without the variable this module does nothing.
"""

import os

if os.environ.get("TEST_CLOCK_OFFSET_DAYS"):
    import datetime as dt

    import time_machine

    _shift = dt.timedelta(days=int(os.environ["TEST_CLOCK_OFFSET_DAYS"]))
    time_machine.travel(dt.datetime.now(dt.UTC) + _shift, tick=True).start()
