"""940 shipping orders and 945 shipping advices to events."""

from __future__ import annotations

from ingress import x12io
from ingress.domain.x12_warehouse import map_940, map_945

EA = frozenset({"EA"})


def one_set(code: str, body: list[str]) -> str:
    st = [f"ST*{code}*0001", *body]
    return (
        "~".join(
            [
                "ISA*00*          *00*          *ZZ*3PL-ONE        *ZZ*DISTSYNC       *261201*1200*U*00401*000000009*0*P*>",
                "GS*SW*3PL-ONE*DISTSYNC*20261201*1200*9*X*004010",
                *st,
                f"SE*{len(st) + 1}*0001",
                "GE*1*9",
                "IEA*1*000000009",
            ]
        )
        + "~"
    )


SHIP_ADVICE = [
    "W06*F*ORD-1*20261201*SH-77",
    "N1*SF*3PL East*92*DC-3PL",
    "G62*11*20261201*8*1415",
    "W27*M*UPSN",
    "N9*2I*1Z999",
    "LX*1",
    "W12*CC*4*4*0*EA**VN*SKU-1",
    "N9*LI*L-10",
    "LX*2",
    "W12*CC*2*2*0*CS*012345678905",
]


def test_a_945_becomes_shipment_shipped_from_the_warehouse():
    ic = x12io.read(one_set("945", SHIP_ADVICE))
    assert not ic.errors and not ic.groups[0].sets[0].set_errors
    m = map_945(ic.groups[0].sets[0], EA)
    assert not m.errors
    assert m.events == [
        (
            "shipment.shipped",
            {
                "shipment_id": "SH-77",
                "order_id": "ORD-1",
                "location": "DC-3PL",
                "carrier": "ups",
                "tracking_number": "1Z999",
                "lines": [
                    {"line_id": "L-10", "sku": "SKU-1", "qty": 4.0},
                    {"line_id": "2", "sku": "012345678905", "qty": 2.0, "uom": "CS"},
                ],
            },
            "2026-12-01T14:15:00Z",
            "ORD-1",
        )
    ]


def test_a_945_without_carrier_tracking_or_a_readable_quantity_is_refused():
    body = [s for s in SHIP_ADVICE if not s.startswith(("W27", "N9*2I"))]
    body = [s.replace("W12*CC*4*4", "W12*CC*4*x") for s in body]
    m = map_945(x12io.read(one_set("945", body)).groups[0].sets[0], EA)
    assert not m.events
    got = {(e.seg_id, e.code, e.element) for e in m.errors}
    assert {("W27", "3", None), ("N9", "3", None), ("W12", "8", 3)} <= got


def test_a_940_allocates_the_order_lines_at_its_warehouse():
    body = ["W05*N*ORD-2*PO-2", "N1*WH*3PL East*92*DC-3PL", "LX*1", "W01*3*EA**SK*SKU-9"]
    m = map_940(x12io.read(one_set("940", body)).groups[0].sets[0], EA)
    assert m.events == [
        (
            "order.allocated",
            {
                "order_id": "ORD-2",
                "lines": [{"line_id": "1", "sku": "SKU-9", "qty": 3.0, "location": "DC-3PL"}],
            },
            None,
            "ORD-2",
        )
    ]


def test_a_replacement_940_is_refused_so_lines_are_never_allocated_twice():
    body = ["W05*R*ORD-2", "N1*WH*X*92*DC", "LX*1", "W01*3*EA**SK*SKU-9"]
    m = map_940(x12io.read(one_set("940", body)).groups[0].sets[0], EA)
    assert not m.events and m.errors[0].element == 1 and m.errors[0].element_code == "7"
