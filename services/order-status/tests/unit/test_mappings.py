"""Native status mapping: per-source tables as data, unmapped codes, configuration overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from order_status.domain.mappings import DEFAULT_TABLES, DEFAULTS, merge, normalize
from order_status.domain.ranks import STATUSES
from order_status.settings import load_tables


def test_every_default_mapping_points_to_an_enterprise_status() -> None:
    for source, table in DEFAULT_TABLES.items():
        for code, status in table.items():
            assert status is None or status in STATUSES, (source, code)
            assert code == normalize(code), (source, code)


def test_common_erp_and_wms_vocabularies_are_mapped() -> None:
    assert DEFAULTS.lookup("erp", "Released").status == "allocated"
    assert DEFAULTS.lookup("erp", "Credit Hold").status == "exception"
    assert DEFAULTS.lookup("erp", "credit-approved").status == "credit_approved"
    assert DEFAULTS.lookup("wms", "WAVED").status == "allocated"
    assert DEFAULTS.lookup("wms", "Picked").status == "picked"
    assert DEFAULTS.lookup("wms", "Packed").status == "packed"
    assert DEFAULTS.lookup("wms", "Loaded").status == "packed"
    assert DEFAULTS.lookup("tms", "Manifested").status == "packed"


def test_native_codes_are_matched_whatever_their_case_and_separators() -> None:
    assert normalize("  Credit-Hold ") == normalize("CREDIT_HOLD") == "credit_hold"


def test_unmapped_native_status_is_recorded_and_status_kept(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0), h.reported(1, "Teleported", source="wms/dc-east")])
    assert view.status == "received"
    entry = view.timeline[-1]
    assert entry.unmapped is True
    assert entry.mapping == "wms"
    assert entry.native_status == "Teleported"
    assert entry.mapped_status is None
    assert len(view.milestones) == 1


def test_unmapped_carrier_milestone_is_recorded_and_status_kept(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0), h.shipped(1, L1=10), h.scan(2, "abducted_by_aliens")])
    assert view.status == "shipped"
    assert view.timeline[-1].unmapped and view.timeline[-1].mapping == "carrier"


def test_status_of_an_unknown_source_system_is_unmapped(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0), h.reported(1, "shipped", source="mainframe/x")])
    assert view.status == "received" and view.timeline[-1].unmapped


def test_code_mapped_to_null_is_recorded_without_change_and_not_unmapped(kit: Any) -> None:
    h = kit.History()
    view = kit.fold_all([h.created(0), h.returned(1, "authorized")])
    assert view.status == "received"
    assert view.timeline[-1].unmapped is False
    assert view.timeline[-1].note == "known native status; no status change"


def test_mapping_override_file_changes_and_adds_codes_without_a_code_change(
    kit: Any, tmp_path: Path
) -> None:
    path = tmp_path / "mapping.json"
    overrides = {"erp": {"Released": "credit_approved", "ZREL": "allocated"}, "wms": {"x": None}}
    path.write_text(json.dumps(overrides))
    tables = load_tables(str(path))
    assert tables.lookup("erp", "released").status == "credit_approved"
    assert tables.lookup("erp", "zrel").status == "allocated"
    assert tables.lookup("erp", "credit hold").status == "exception"
    h = kit.History()
    facts = [h.created(0), h.reported(1, "ZREL")]
    assert kit.fold_all(facts).status == "received"
    assert kit.fold_all(facts, tables).status == "allocated"


def test_override_may_add_a_whole_source(kit: Any) -> None:
    tables = merge({"mainframe": {"S9": "shipped"}})
    assert tables.lookup("mainframe", "s9").status == "shipped"


def test_override_to_a_status_that_is_not_enterprise_is_refused() -> None:
    with pytest.raises(ValueError, match="not an enterprise status"):
        merge({"erp": {"released": "gone_fishing"}})


def test_override_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        load_tables(str(path))


def test_no_override_file_means_the_defaults() -> None:
    assert load_tables(None) is DEFAULTS
