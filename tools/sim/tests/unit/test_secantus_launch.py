"""The embedded database's GC policy: survivors of a round leave later collections."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from distsync_sim import secantus_launch as sl


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector could ever free it


@pytest.fixture
def thawed() -> object:
    gc.unfreeze()
    yield None
    gc.unfreeze()


def test_a_round_collects_the_young_garbage_and_freezes_the_survivors(thawed: object) -> None:
    garbage = Node()
    gone = weakref.ref(garbage)
    alive = [Node() for _ in range(100)]
    del garbage
    before = gc.get_freeze_count()
    frozen, seconds = sl.freeze_round()
    assert frozen == gc.get_freeze_count() > before
    assert seconds >= 0
    # the survivors are frozen: a full collection no longer tracks them in any generation
    assert all(gc.is_tracked(n) for n in alive)
    young = {id(o) for g in (0, 1, 2) for o in gc.get_objects(generation=g)}
    assert not any(id(n) in young for n in alive)
    # and the cycle dropped before the round was collected, not frozen with the rest
    assert gone() is None


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sl.ENV, raising=False)
    assert sl.freeze_interval() == sl.DEFAULT_INTERVAL_S
    monkeypatch.setenv(sl.ENV, "2.5")
    assert sl.freeze_interval() == 2.5
    monkeypatch.setenv(sl.ENV, "often")
    assert sl.freeze_interval() == sl.DEFAULT_INTERVAL_S


def test_zero_leaves_the_server_untouched() -> None:
    before = {t.name for t in threading.enumerate()}
    assert sl.install(0) is False
    assert "gc-freezer" not in {t.name for t in threading.enumerate()} - before


def test_the_ttl_sweeper_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sl.TTL_ENV, raising=False)
    assert sl.ttl_sweep_seconds() == 0
    monkeypatch.setenv(sl.TTL_ENV, "3600")
    assert sl.ttl_sweep_seconds() == 3600
    monkeypatch.setenv(sl.TTL_ENV, "-1")
    assert sl.ttl_sweep_seconds() == 0
