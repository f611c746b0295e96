"""The store's health as ``GET /health`` reports it: probed at most once per few seconds per process.

``/health`` is an open route: anyone may call it, as often as the gateway's throttle lets them,
and each probe is a table read (and, when the table does not answer, up to the repository's
whole retry budget of waiting). So the answer is a short-lived cache: the outcome of the last
probe, healthy or not, stands for ``HEALTH_CHECK_TTL_S`` seconds. A healthy store is read at most
once per TTL per process; an unhealthy one is waited on by one caller per TTL, and every other
caller gets the 503 at once. The cache starts empty (nothing probes during init, so a SnapStart
snapshot holds no outcome).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mvdb.domain.errors import StorageUnavailable

__all__ = ["HEALTH_CHECK_TTL_S", "CachedHealthCheck"]

HEALTH_CHECK_TTL_S = 5.0


class CachedHealthCheck:
    """Calls ``probe`` (returns when the store answers, raises StorageUnavailable when not) at most once per ``ttl_s``.

    Calling the check returns or raises StorageUnavailable as the last probe did, for ``ttl_s``
    seconds (``clock``: seconds, monotonic). Other exceptions are not kept: they propagate from the
    probe that raised them. Safe across threads: concurrent callers wait for one probe.
    """

    def __init__(
        self,
        probe: Callable[[], None],
        ttl_s: float = HEALTH_CHECK_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._failure: StorageUnavailable | None = None

    def __call__(self) -> None:
        with self._lock:
            if self._checked_at is None or self._clock() - self._checked_at >= self._ttl_s:
                self._failure = None
                try:
                    self._probe()
                except StorageUnavailable as error:
                    self._failure = error
                self._checked_at = self._clock()
            failure = self._failure
        if failure is not None:
            raise StorageUnavailable(failure.detail, retry_after_s=failure.retry_after_s)
