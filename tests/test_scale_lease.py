"""The controller's lease: one holder at a time, renewable, taken over only once expired — on SQLite and
PostgreSQL alike, including two processes racing for it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from brokerscale.store import Store, open_store
from store_backends import BACKENDS, store_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from store_url(request.param, tmp_path)


def test_one_holder_renews_others_wait_until_it_expires(url: str) -> None:
    store = open_store(url)
    # 3 s: the four store round trips below must fit inside the lease even when a busy machine's fsync is slow
    assert store.acquire_lease("scale:x", "a", ttl_s=3)
    assert not store.acquire_lease("scale:x", "b", ttl_s=3)
    assert store.acquire_lease("scale:x", "a", ttl_s=3)  # renewal
    lease = store.lease("scale:x")
    assert lease is not None and lease["holder"] == "a" and lease["expires_at"] > time.time()
    assert store.acquire_lease("scale:other", "b", ttl_s=5)  # another target is another lease
    deadline = time.time() + 15
    while not store.acquire_lease("scale:x", "b", ttl_s=5):  # a's lease runs out: b takes over
        assert time.time() < deadline, store.lease("scale:x")
        time.sleep(0.2)
    assert store.lease("scale:x")["holder"] == "b"  # type: ignore[index]
    assert not store.acquire_lease("scale:x", "a", ttl_s=5)
    store.release_lease("scale:x", "a")  # not a's to release
    assert store.lease("scale:x")["holder"] == "b"  # type: ignore[index]
    store.release_lease("scale:x", "b")
    assert store.lease("scale:x") is None
    store.close()


def test_racing_processes_exactly_one_wins(url: str) -> None:
    stores: list[Store] = [open_store(url) for _ in range(6)]

    def grab(i: int) -> bool:
        return stores[i].acquire_lease("scale:race", f"holder-{i}", ttl_s=30)

    with ThreadPoolExecutor(6) as pool:
        wins = list(pool.map(grab, range(6)))
    assert sum(wins) == 1
    winner = wins.index(True)
    assert stores[0].lease("scale:race")["holder"] == f"holder-{winner}"  # type: ignore[index]
    for s in stores:
        s.close()
