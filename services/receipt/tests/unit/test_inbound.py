"""inbound.changed: absolute quantity still expected per (SKU, location), with the next date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from receipt.domain import inbound

T0 = datetime(2026, 11, 27, tzinfo=UTC)
MS = timedelta(milliseconds=1)


async def test_inbound_totals_sum_open_lines_across_two_pos(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], expected_date="2026-12-05")
    await svc.release(
        "PO-2", [svc.pl("1", "SKU-A", 7), svc.pl("2", "SKU-A", 3)], expected_date="2026-12-03"
    )
    await svc.release("PO-3", [svc.pl("1", "SKU-A", 50)], location="DC-WEST")

    assert svc.inbound("SKU-A") == {
        "sku": "SKU-A",
        "location": "DC-EAST",
        "inbound_qty": 20.0,
        "next_expected_date": "2026-12-03",
    }
    assert svc.inbound("SKU-A", "DC-WEST")["inbound_qty"] == 50.0

    await svc.receive("R-1", "PO-2", [svc.rl("SKU-A", 12)])  # 2 over line 2: never below zero

    assert svc.inbound("SKU-A") == {
        "sku": "SKU-A",
        "location": "DC-EAST",
        "inbound_qty": 10.0,
        "next_expected_date": "2026-12-05",
    }


async def test_asn_refines_the_expected_date_but_never_raises_the_quantity(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], expected_date="2026-12-10")
    await svc.asn("ASN-1", "PO-1", "2026-12-02T14:00:00Z", [("1", "SKU-A", 15)])

    assert svc.inbound("SKU-A") == {
        "sku": "SKU-A",
        "location": "DC-EAST",
        "inbound_qty": 10.0,
        "next_expected_date": "2026-12-02",
    }
    assert svc.line("PO-1", "1")["advised"] == 15.0


async def test_split_asns_give_the_date_of_the_next_unreceived_shipment(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], expected_date="2026-12-10")
    await svc.asn("ASN-2", "PO-1", "2026-12-06", [("1", "SKU-A", 6)])
    await svc.asn("ASN-1", "PO-1", "2026-12-02", [("1", "SKU-A", 4)])
    assert svc.inbound("SKU-A")["next_expected_date"] == "2026-12-02"

    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 4)])
    assert svc.inbound("SKU-A") == {
        "sku": "SKU-A",
        "location": "DC-EAST",
        "inbound_qty": 6.0,
        "next_expected_date": "2026-12-06",
    }


async def test_a_newer_version_of_an_asn_replaces_the_older_one(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], expected_date="2026-12-10")
    await svc.asn("ASN-1", "PO-1", "2026-12-04", [("1", "SKU-A", 10)], time=svc.at(5))
    await svc.asn("ASN-1", "PO-1", "2026-12-01", [("1", "SKU-A", 8)], time=svc.at(4))

    assert svc.line("PO-1", "1")["advised"] == 10.0
    assert svc.inbound("SKU-A")["next_expected_date"] == "2026-12-04"


async def test_asn_before_its_po_is_kept_and_applies_at_release(svc):
    await svc.asn("ASN-1", "PO-1", "2026-12-02", [("1", "SKU-A", 10)])
    assert svc.events("inbound.changed") == []

    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], expected_date="2026-12-10")
    assert svc.inbound("SKU-A")["next_expected_date"] == "2026-12-02"
    assert svc.line("PO-1", "1")["advised"] == 10.0


async def test_inbound_is_published_only_when_total_or_date_changes(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10), svc.pl("2", "SKU-B", 5)])
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-B", 2)])

    assert [(d["sku"], d["inbound_qty"]) for d in svc.events("inbound.changed")] == [
        ("SKU-A", 10.0),
        ("SKU-B", 5.0),
        ("SKU-B", 3.0),
    ]


async def test_later_inbound_states_never_carry_an_earlier_time(svc):
    await svc.release("PO-1", [svc.pl("1", "SKU-A", 10)], time=svc.at(50))
    await svc.receive("R-1", "PO-1", [svc.rl("SKU-A", 3)], time=svc.at(1))
    await svc.cancel("PO-1", time=svc.at(3))

    times = [t for kind, _, t in svc.published if kind == "inbound.changed"]
    assert len(times) == 3
    assert times == sorted(set(times))


def test_each_inbound_state_carries_a_strictly_later_time_even_if_the_clock_is_behind():
    first, _, t1 = inbound.apply(None, "SKU-A", "DC-EAST", "PO-1", (_entry(5),), now=T0)
    second, event, t2 = inbound.apply(
        first, "SKU-A", "DC-EAST", "PO-1", (_entry(2),), now=T0 - timedelta(minutes=5)
    )
    _, _, t3 = inbound.apply(second, "SKU-A", "DC-EAST", "PO-1", (_entry(1),), now=T0)

    assert event is not None and event.inbound_qty == 2.0
    assert (t1, t2, t3) == (T0, T0 + MS, T0 + 2 * MS)  # the envelope keeps milliseconds
    assert second.emitted_time == T0 + MS


def _entry(remaining: float) -> inbound.InboundEntry:
    return inbound.InboundEntry(po_id="PO-1", line_id="1", remaining=remaining, expected_date=T0)
