"""Who holds a claimed row: outbox messages and webhook deliveries are claimed by a worker
process named `host:pid`, so a worker restarted on the same host can take back at once what a
killed one held instead of waiting for the lease to run out.

Why a module of its own: the outbox sender and the webhook deliverer both claim rows this way.
"""

from __future__ import annotations

import os
import socket


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_here(owner: str) -> bool:
    """A claim by a process of this host that no longer runs (a worker killed and restarted)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
