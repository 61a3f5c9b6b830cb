"""CloudEvents HTTP binary mode: ce-* headers and a JSON body become one event object."""

from __future__ import annotations

import pytest

from ingress.domain.binary import BinaryModeError, event_object, is_binary, media_type


def test_headers_become_attributes_and_the_body_becomes_data():
    headers = [
        ("CE-SpecVersion", "1.0"),
        ("ce-id", "e-1"),
        ("ce-source", "wms/dc-1"),
        ("ce-type", "inventory.counted"),
        ("ce-time", "2026-11-27T10:15:00Z"),
        ("ce-correlationid", "C%C3%A9-1"),
        ("content-type", "application/json; charset=utf-8"),
        ("x-other", "ignored"),
    ]
    ev = event_object(headers, b'{"sku": "S", "counted_qty": 3}')
    assert ev == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "wms/dc-1",
        "type": "inventory.counted",
        "time": "2026-11-27T10:15:00Z",
        "correlationid": "Cé-1",
        "datacontenttype": "application/json",
        "data": {"sku": "S", "counted_qty": 3},
    }
    assert is_binary(headers)
    assert not is_binary([("content-type", "application/cloudevents+json")])


def test_data_that_is_not_json_is_refused_with_415():
    with pytest.raises(BinaryModeError) as e:
        event_object([("ce-specversion", "1.0"), ("content-type", "text/plain")], b"hello")
    assert e.value.status == 415 and "JSON" in e.value.reason


def test_a_body_that_is_not_json_is_refused_with_400():
    with pytest.raises(BinaryModeError) as e:
        event_object([("ce-specversion", "1.0"), ("content-type", "application/json")], b"{x")
    assert e.value.status == 400 and "not JSON" in e.value.reason


@pytest.mark.parametrize(
    "headers",
    [
        [("ce-specversion", "1.0"), ("ce-id", "a"), ("CE-ID", "b")],
        [("ce-specversion", "1.0"), ("ce-data", "{}")],
        [("ce-specversion", "1.0"), ("ce-id", "%FF%FE")],
    ],
)
def test_repeated_data_or_badly_encoded_headers_are_refused(headers):
    with pytest.raises(BinaryModeError) as e:
        event_object(headers, b"")
    assert e.value.status == 400


def test_media_type_ignores_parameters_and_case():
    assert media_type("Application/CloudEvents-Batch+JSON; charset=utf-8") == (
        "application/cloudevents-batch+json"
    )
    assert media_type(None) == ""
