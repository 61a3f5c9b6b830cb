"""The ingress's OpenAPI document builds offline, as `distsync openapi` builds every service's."""

from __future__ import annotations

from distsync_ops.openapi import document
from ingress.main import SERVICE


def test_the_document_lists_the_ingress_paths_their_scopes_and_media_types():
    doc = document(SERVICE)
    paths = doc["paths"]
    assert {
        "/v1/events",
        "/v1/events/{event_id}",
        "/v1/files/{kind}",
        "/v1/files/{file_id}",
    } <= set(paths)
    assert {"/v1/edi", "/v1/edi/846"} <= set(paths)
    post = paths["/v1/events"]["post"]
    assert post["security"] == [
        {"bearerAuth": ["ingress:publish"]},
        {"apiKeyAuth": ["ingress:publish"]},
    ]
    assert set(post["requestBody"]["content"]) == {
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "application/json",
    }
    assert {"202", "400", "403", "409", "415", "422", "503"} <= set(post["responses"])
    assert paths["/v1/files/{file_id}"]["get"]["security"][0] == {"bearerAuth": ["ingress:read"]}
