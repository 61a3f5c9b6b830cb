"""Flat files: rows to event payloads, refusals with their line numbers, deterministic ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingress.domain.flatfiles import KINDS, FileError, fmt_of, parse_file

COUNTS = KINDS["counts"]
POS = KINDS["purchase-orders"]


def test_each_row_of_counts_is_one_event_with_numbers_converted():
    csv = b"Location,SKU,counted_qty,user\nDC-1,A,10,cc\n\nDC-1,B,2.5,\n"
    p = parse_file(COUNTS, csv, "csv")
    assert p.rows == 2 and not p.refused
    assert [(e.line, e.type, e.data) for e in p.events] == [
        (
            2,
            "inventory.counted",
            {"location": "DC-1", "sku": "A", "counted_qty": 10.0, "user": "cc"},
        ),
        (4, "inventory.counted", {"location": "DC-1", "sku": "B", "counted_qty": 2.5}),
    ]


def test_bad_rows_are_refused_with_their_line_and_the_rest_go_on():
    csv = b"location,sku,counted_qty\nDC-1,A,ten\nDC-1,,1\nDC-1,C\nDC-1,D,4\n"
    p = parse_file(COUNTS, csv, "csv")
    assert [(r.line, r.reason) for r in p.refused] == [
        (2, "counted_qty 'ten' is not a number"),
        (3, "sku is missing"),
        (4, "2 cells where the header has 3"),
    ]
    assert [e.data["sku"] for e in p.events] == ["D"]


def test_a_file_without_a_required_column_or_not_utf8_is_refused_whole():
    with pytest.raises(FileError, match="lacks counted_qty"):
        parse_file(COUNTS, b"location,sku\nDC,A\n", "csv")
    with pytest.raises(FileError, match="UTF-8"):
        parse_file(COUNTS, b"location,sku,counted_qty\n\xff,A,1\n", "csv")
    with pytest.raises(FileError, match="empty"):
        parse_file(COUNTS, b"", "csv")


def test_json_lines_use_the_same_fields():
    body = b'{"location": "DC", "sku": "A", "counted_qty": 3, "time": "2026-11-01T00:00:00Z"}\n[1]\n{bad\n'
    p = parse_file(COUNTS, body, "jsonl")
    assert p.events[0].data == {"location": "DC", "sku": "A", "counted_qty": 3}
    assert p.events[0].time == "2026-11-01T00:00:00Z"
    assert [r.line for r in p.refused] == [2, 3]


def test_purchase_order_rows_are_grouped_into_one_event_per_po():
    csv = (
        b"po_id,supplier_id,location,expected_date,line_id,sku,qty,lot_tracked\n"
        b"PO-1,S,DC,2026-12-01,1,A,5,yes\n"
        b"PO-2,S,DC,2026-12-02,1,B,1,\n"
        b"PO-1,S,DC,2026-12-01,2,C,7,no\n"
    )
    p = parse_file(POS, csv, "csv")
    assert not p.refused
    po1 = next(e for e in p.events if e.data["po_id"] == "PO-1")
    assert po1.type == "purchase_order.released" and po1.correlationid == "PO-1"
    assert po1.lines == (2, 4)
    assert po1.data["lines"] == [
        {"line_id": "1", "sku": "A", "qty": 5.0, "lot_tracked": True},
        {"line_id": "2", "sku": "C", "qty": 7.0, "lot_tracked": False},
    ]


def test_lines_of_one_po_that_disagree_on_its_header_refuse_the_whole_po():
    csv = (
        b"po_id,supplier_id,location,expected_date,line_id,sku,qty\n"
        b"PO-1,S,DC,2026-12-01,1,A,5\n"
        b"PO-1,S,DC-2,2026-12-01,2,C,7\n"
    )
    p = parse_file(POS, csv, "csv")
    assert not p.events
    assert [r.line for r in p.refused] == [2, 3]
    assert "disagree" in p.refused[0].reason


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 99)), min_size=1, max_size=8))
def test_ids_depend_on_the_content_and_line_only(rows):
    body = "location,sku,counted_qty\n" + "".join(f"DC,{s},{q}\n" for s, q in rows)
    a = parse_file(COUNTS, body.encode(), "csv")
    b = parse_file(COUNTS, body.encode(), "csv")
    assert [e.id for e in a.events] == [e.id for e in b.events]
    assert len({e.id for e in a.events}) == len(rows)
    other = parse_file(COUNTS, (body + "DC,Z,1\n").encode(), "csv")
    assert not {e.id for e in a.events} & {e.id for e in other.events}


def test_format_from_content_type_or_name():
    assert fmt_of(None, "application/x-ndjson") == "jsonl"
    assert fmt_of("counts.JSONL", None) == "jsonl"
    assert fmt_of("counts.csv", "application/octet-stream") == "csv"
