"""docs/carriers.md lists every code the tables know, with the meaning the table gives it."""

from __future__ import annotations

from pathlib import Path

import pytest

from carrier_tracking.domain.carriers import TABLES, TYPED_TABLES

DOC = Path(__file__).parents[4] / "docs" / "carriers.md"
TITLES = {"ups": "## UPS", "fedex": "## FedEx", "dhl": "## DHL", "usps": "## USPS"}
TITLES["generic"] = "## Any other carrier"


def section(carrier: str) -> str:
    text = DOC.read_text()
    start = text.index(TITLES[carrier])
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize("carrier", sorted(TABLES))
def test_every_code_is_documented_with_its_meaning(carrier: str) -> None:
    doc = section(carrier)
    for code, entry in TABLES[carrier].items():
        assert f"| `{code}` | {entry.meaning} |" in doc, code
    for (kind, code), entry in TYPED_TABLES.get(carrier, {}).items():
        assert f"| `{kind}` `{code}` | {entry.meaning} |" in doc, (kind, code)
