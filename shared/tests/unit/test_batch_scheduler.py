"""How the consumer forms and overlaps batches: one at a time under light load, several at once
under a backlog, never two in flight that share a document, and one aggregate's messages in
delivery order. The batches' work is replaced by a recorder; the transaction path is tested
against the real broker and database in tests/integration/test_runtime.py."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

from runtime_support import counter_service
from shared.consumer import Consumer, Parsed
from shared.envelope import build
from shared.settings import ServiceSettings


class Recorder(Consumer):
    def __init__(self, *, batch_size: int, lanes: int, hold_s: float) -> None:
        settings = ServiceSettings(batch_size=batch_size, lanes=lanes, batch_wait_ms=2)
        super().__init__(counter_service(), settings, None, None, None, None, lambda: None)  # type: ignore[arg-type]
        self.hold_s = hold_s
        self.batches: list[list[str]] = []
        self.in_flight: list[set[str]] = []
        self.most_at_once = 0
        self.shared_key_seen = False

    async def process(self, batch: list[Parsed]) -> None:
        keys = {k for p in batch for k in p.keys}
        if any(keys & other for other in self.in_flight):
            self.shared_key_seen = True
        self.in_flight.append(keys)
        self.most_at_once = max(self.most_at_once, len(self.in_flight))
        self.batches.append([str(p.envelope) for p in batch])  # the name stands in for it
        await asyncio.sleep(self.hold_s)
        self.in_flight.remove(keys)


def msg(name: str, *keys: str) -> Parsed:
    return Parsed(None, name, None, None, [], keys)  # type: ignore[arg-type]


async def run(c: Recorder, feed: Any) -> None:
    batches = c._batches
    task = asyncio.create_task(batches.run())
    try:
        await feed()
        for _ in range(500):
            await asyncio.sleep(0.01)
            if not batches.pending and not batches.running:
                break
    finally:
        batches.stopping = True
        batches.wake.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def offer(c: Recorder, *ps: Parsed) -> None:
    c._batches.pending.extend(ps)
    c._batches.wake.set()


async def test_under_light_load_one_batch_runs_at_a_time_and_takes_everything_waiting() -> None:
    c = Recorder(batch_size=10, lanes=4, hold_s=0.05)

    async def feed() -> None:
        offer(c, msg("a", "k1"))
        await asyncio.sleep(0.01)  # the first batch is running: these wait for it
        offer(c, msg("b", "k2"), msg("c", "k3"), msg("d", "k4"))

    await run(c, feed)
    assert c.batches == [["a"], ["b", "c", "d"]]
    assert c.most_at_once == 1


async def test_a_backlog_runs_several_batches_at_once_without_sharing_a_document() -> None:
    c = Recorder(batch_size=10, lanes=3, hold_s=0.02)
    rnd = random.Random(7)
    sent = [(f"m{i}", f"k{rnd.randrange(40)}") for i in range(400)]

    async def feed() -> None:
        offer(c, *(msg(name, key) for name, key in sent))

    await run(c, feed)
    done = [name for b in c.batches for name in b]
    assert sorted(done) == sorted(name for name, _ in sent)  # each exactly once
    assert 1 < c.most_at_once <= 3
    assert not c.shared_key_seen
    key_of = dict(sent)
    for key in {k for _, k in sent}:  # one aggregate's messages in delivery order
        expected = [name for name, k in sent if k == key]
        assert [name for name in done if key_of[name] == key] == expected


async def test_a_message_waits_behind_an_earlier_one_that_shares_a_document_with_it() -> None:
    c = Recorder(batch_size=2, lanes=2, hold_s=0.05)

    async def feed() -> None:
        offer(c, msg("a", "k1"), msg("b", "k2"))
        await asyncio.sleep(0.01)  # a and b in flight; k1 and k2 are held
        # c touches k1 and k3: it waits, and so does d (k3, after c); e and f may go
        offer(c, msg("c", "k1", "k3"), msg("d", "k3"), msg("e", "k4"), msg("f", "k5"))

    await run(c, feed)
    assert c.batches[:2] == [["a", "b"], ["e", "f"]]
    assert c.batches[2:] == [["c", "d"]]
    assert not c.shared_key_seen


async def test_a_partial_batch_does_not_start_beside_a_running_one() -> None:
    c = Recorder(batch_size=10, lanes=4, hold_s=0.05)

    async def feed() -> None:
        offer(c, *(msg(f"a{i}", f"k{i}") for i in range(10)))
        await asyncio.sleep(0.01)
        offer(c, *(msg(f"b{i}", f"j{i}") for i in range(9)))  # fewer than a full batch

    await run(c, feed)
    assert c.most_at_once == 1
    assert [len(b) for b in c.batches] == [10, 9]


class Delivery:
    """What admission reads of a delivery."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.headers: dict[str, Any] = {}
        self.exchange, self.routing_key = "wms.events", "thing.happened"


def _keys_and_registry(d: Any) -> list[tuple[str, str]]:
    return [("counters", d.key), ("registry", "all")]


async def test_a_collection_every_message_reads_does_not_partition_batches() -> None:
    base = counter_service(preload=True)
    route = dataclasses.replace(base.routes[0], preload=_keys_and_registry)
    for shared, expected in ((frozenset(), 1), (frozenset({"registry"}), 2)):
        svc = dataclasses.replace(base, routes=(route,), shared_reads=shared)
        c = Recorder(batch_size=2, lanes=2, hold_s=0.05)
        c._admission.svc = svc
        ps = []
        for i in range(4):
            ev = build("thing.happened", {"key": f"k{i}", "n": 1}, source="wms/test")
            ps.append(c._admission.parse(Delivery(ev.to_json_bytes())))  # type: ignore[arg-type]
        assert ps[0].preload == [("counters", "k0"), ("registry", "all")]  # still preloaded

        async def feed(ps: list[Parsed] = ps, c: Recorder = c) -> None:
            offer(c, *ps)

        await run(c, feed)
        assert c.most_at_once == expected
