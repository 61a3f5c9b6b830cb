"""X12: reading with pyx12, the 856 mapping, the 997/999 and the 846."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingress import x12io
from ingress.domain.x12 import x12_date, x12_time
from ingress.domain.x12_in import map_856
from ingress.domain.x12_out import Party, Stock, acknowledgment, inventory_advice

US = Party("ZZ", "DISTSYNC")
NOW = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
EA = frozenset({"EA"})


def interchange(body: list[str], *, control: str = "000000101", version: str = "004010") -> str:
    """An ISA/GS envelope around one transaction set's body (ST..SE added, SE counted)."""
    isa_v = "00501" if version.startswith("00501") else "00401"
    sep = "^" if isa_v == "00501" else "U"
    st = ["ST*856*0001", *body]
    lines = [
        f"ISA*00*          *00*          *ZZ*SUPPLIER1      *ZZ*DISTSYNC       *261201*1200*{sep}*{isa_v}*{control}*0*P*>",
        f"GS*SH*SUPPLIER1*DISTSYNC*20261201*1200*101*X*{version}",
        *st,
        f"SE*{len(st) + 1}*0001",
        "GE*1*101",
        f"IEA*1*{control}",
    ]
    return "~\n".join(lines) + "~\n"


def asn_body(asn: str = "ASN-77", po: str = "PO-9", loc: str = "DC-EAST") -> list[str]:
    return [
        f"BSN*00*{asn}*20261201*1230",
        "DTM*017*20261205",
        "HL*1**S",
        f"N1*ST*East DC*92*{loc}",
        "HL*2*1*O",
        f"PRF*{po}",
        "HL*3*2*I",
        "LIN*1*SK*SKU-1",
        "SN1**10*EA",
        "HL*4*2*I",
        "LIN*2*BP*B-2*SK*SKU-2",
        "SN1**4*CS",
        "CTT*4",
    ]


def segments(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def test_an_856_becomes_one_asn_received_per_order():
    ic = x12io.read(interchange(asn_body()))
    assert not ic.errors and ic.sender == "SUPPLIER1" and ic.control == "000000101"
    ((g, ts),) = ic.all_sets
    assert (g.functional_id, g.control, ts.code, ts.control) == ("SH", "101", "856", "0001")
    m = map_856(ts, EA)
    assert not m.errors
    assert m.events == [
        (
            "asn.received",
            {
                "asn_id": "ASN-77",
                "po_id": "PO-9",
                "location": "DC-EAST",
                "expected_date": "2026-12-05",
                "lines": [
                    {"po_line_id": "1", "sku": "SKU-1", "qty": 10.0},
                    {"po_line_id": "2", "sku": "SKU-2", "qty": 4.0, "uom": "CS"},
                ],
            },
            "2026-12-01T12:30:00Z",
            "PO-9",
        )
    ]


def test_two_orders_in_one_856_give_two_asns_named_after_each_po():
    body = [
        *asn_body()[:-1],
        "HL*5*1*O",
        "PRF*PO-10",
        "HL*6*5*I",
        "LIN*1*SK*SKU-3",
        "SN1**1*EA",
        "CTT*6",
    ]
    m = map_856(x12io.read(interchange(body)).groups[0].sets[0], EA)
    assert [d["asn_id"] for _, d, _, _ in m.events] == ["ASN-77/PO-9", "ASN-77/PO-10"]


def test_missing_pieces_are_reported_as_segment_and_element_errors():
    body = [s for s in asn_body() if not s.startswith(("N1*", "DTM"))]
    body = [s.replace("SN1**10*EA", "SN1**ten*EA") for s in body]
    m = map_856(x12io.read(interchange(body)).groups[0].sets[0], EA)
    assert not m.events
    got = {(e.seg_id, e.code, e.element, e.element_code) for e in m.errors}
    assert ("DTM", "3", None, None) in got
    assert ("N1", "3", None, None) in got
    assert ("SN1", "8", 2, "6") in got


def test_an_interchange_with_a_wrong_segment_count_is_rejected_with_a_997():
    text = interchange(asn_body()).replace("SE*15*0001", "SE*14*0001")
    ic = x12io.read(text)
    ((_, ts),) = ic.all_sets
    assert ts.set_errors and ts.set_errors[0][0] == "4"
    ack = segments(x12io.write(acknowledgment(ic, US, 7, NOW)))
    ids = [s[0] for s in ack]
    assert ids == ["ISA", "GS", "ST", "AK1", "AK2", "AK5", "AK9", "SE", "GE", "IEA"]
    assert ack[2][1] == "997" and ack[3] == ["AK1", "SH", "101"]
    assert ack[5] == ["AK5", "R", "4"] and ack[6] == ["AK9", "R", "1", "1", "0"]
    assert ack[0][6].strip() == "DISTSYNC" and ack[0][8].strip() == "SUPPLIER1"
    assert ack[7] == ["SE", "6", "0001"]


def test_a_005010_group_is_answered_with_a_999_naming_the_segment():
    body = [s for s in asn_body() if not s.startswith("N1*")]
    ic = x12io.read(interchange(body, version="005010"))
    ((_, ts),) = ic.all_sets
    ts.seg_errors.extend(map_856(ts, EA).errors)
    ack = segments(x12io.write(acknowledgment(ic, US, 8, NOW)))
    assert ack[2][1] == "999"
    assert ["IK3", "N1", "2", "", "3"] in ack
    assert ["IK5", "R", "5"] in ack


def test_text_that_is_not_x12_cannot_be_read():
    with pytest.raises(x12io.X12Unreadable):
        x12io.read("hello, world")


def test_an_846_lists_on_hand_and_available_per_sku():
    text = x12io.write(
        inventory_advice(
            US, Party("ZZ", "BUYER"), 42, NOW, "DC-1", [Stock("A", 10, 7), Stock("B", 2.5, -1)]
        )
    )
    segs = segments(text)
    assert [s[0] for s in segs] == [
        "ISA",
        "GS",
        "ST",
        "BIA",
        "N1",
        "LIN",
        "QTY",
        "QTY",
        "LIN",
        "QTY",
        "QTY",
        "CTT",
        "SE",
        "GE",
        "IEA",
    ]
    assert segs[1][:2] == ["GS", "IB"] and segs[2][:2] == ["ST", "846"]
    assert segs[5:8] == [
        ["LIN", "", "SK", "A"],
        ["QTY", "17", "10", "EA"],
        ["QTY", "33", "7", "EA"],
    ]
    assert segs[9:11] == [["QTY", "17", "2.5", "EA"], ["QTY", "33", "0", "EA"]]
    assert segs[12] == ["SE", "11", "0001"]
    # what the ingress writes, its own reader takes without an error
    ic = x12io.read(text)
    assert not ic.errors and not ic.groups[0].errors and not ic.groups[0].sets[0].set_errors


def test_x12_dates_and_times():
    assert x12_date("20261205") == "2026-12-05" and x12_date("261205") == "2026-12-05"
    assert x12_date("20261305") is None and x12_date("2026") is None
    assert x12_time("20261201", "1230") == "2026-12-01T12:30:00Z"
    assert x12_time("20261201", "123015") == "2026-12-01T12:30:15Z"
    assert x12_time("20261201", "") == "2026-12-01T00:00:00Z"
