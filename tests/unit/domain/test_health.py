"""/health's answer is the last probe of the store, kept for a few seconds (mvdb.domain.health)."""

from __future__ import annotations

import threading

import pytest

from mvdb.domain.errors import StorageUnavailable
from mvdb.domain.health import HEALTH_CHECK_TTL_S, CachedHealthCheck


class Store:
    """A probe that counts its calls and answers as ``up`` says."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0

    def ping(self) -> None:
        self.probes += 1
        if not self.up:
            raise StorageUnavailable("The movies table is unavailable right now; retry shortly.", retry_after_s=7)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def check(store: Store, clock: Clock) -> CachedHealthCheck:
    return CachedHealthCheck(store.ping, ttl_s=5.0, clock=clock)


def test_the_ttl_is_a_few_seconds() -> None:
    assert 1 <= HEALTH_CHECK_TTL_S <= 10


def test_a_healthy_store_is_probed_once_per_ttl(check: CachedHealthCheck, store: Store, clock: Clock) -> None:
    for _ in range(10):
        check()
        clock.now += 0.4
    assert store.probes == 1
    clock.now += 2.0  # 6 s after the probe
    check()
    assert store.probes == 2


def test_an_outage_is_reported_from_the_cache_without_waiting_on_the_store_again(
    check: CachedHealthCheck, store: Store, clock: Clock
) -> None:
    store.up = False
    for _ in range(3):
        with pytest.raises(StorageUnavailable) as raised:
            check()
        assert raised.value.retry_after_s == 7
        clock.now += 1.0
    assert store.probes == 1


def test_a_store_that_fails_after_a_healthy_probe_is_reported_when_the_ttl_ends(
    check: CachedHealthCheck, store: Store, clock: Clock
) -> None:
    check()
    store.up = False
    check()  # still the healthy outcome
    clock.now += 5.0
    with pytest.raises(StorageUnavailable):
        check()


def test_a_recovered_store_is_reported_healthy_when_the_ttl_ends(
    check: CachedHealthCheck, store: Store, clock: Clock
) -> None:
    store.up = False
    with pytest.raises(StorageUnavailable):
        check()
    store.up = True
    clock.now += 5.0
    check()
    assert store.probes == 2


def test_an_unexpected_error_is_not_kept(clock: Clock) -> None:
    calls = []

    def broken() -> None:
        calls.append(1)
        raise RuntimeError("a bug, not an outage")

    check = CachedHealthCheck(broken, ttl_s=5.0, clock=clock)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            check()
    assert len(calls) == 2


def test_concurrent_callers_share_one_probe(store: Store, clock: Clock) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow_ping() -> None:
        started.set()
        release.wait(5)
        store.ping()

    check = CachedHealthCheck(slow_ping, ttl_s=5.0, clock=clock)
    callers = [threading.Thread(target=check) for _ in range(4)]
    for caller in callers:
        caller.start()
    assert started.wait(5)
    release.set()
    for caller in callers:
        caller.join(5)
    assert store.probes == 1
