"""How long smx waits on a remote that has gone quiet: one setting for HTTP and git.

``SMX_HTTP_TIMEOUT`` (seconds, default 20): how long a connection may send nothing - no
answer to a request, or no more of a body - before smx counts it as stalled. smx's own
downloads then retry within ``SMX_RETRY_BUDGET`` (models/http.py); git gets the same limit as
its low-speed abort (``GIT_HTTP_LOW_SPEED_TIME``), unless the user set git's own variables.
"""

from __future__ import annotations

import os

DEFAULT_STALL_S = 20.0


def stall_timeout_s() -> float:
    """SMX_HTTP_TIMEOUT, or the default when it is unset or not a number."""
    try:
        return max(0.05, float(os.environ.get("SMX_HTTP_TIMEOUT", DEFAULT_STALL_S)))
    except ValueError:
        return DEFAULT_STALL_S
