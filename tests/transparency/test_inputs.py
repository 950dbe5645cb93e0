"""The proof queries are parsed by the serializers the OpenAPI document publishes (issue 13 point 1)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.core.api import validated
from apps.core.errors import ValidationFailed
from apps.transparency import serializers as s

OPERATIONS = {
    "/v1/transparency/proofs/inclusion": s.InclusionProofQuery,
    "/v1/transparency/proofs/consistency": s.ConsistencyProofQuery,
}


@pytest.fixture(scope="module")
def document() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize(("path", "serializer"), OPERATIONS.items())
def test_each_proof_query_is_published_from_its_serializer(document, path, serializer):
    published = {p["name"]: p for p in document["paths"][path]["get"]["parameters"] if p["in"] == "query"}
    fields = serializer().fields
    assert list(published) == list(fields)
    for name, field in fields.items():
        assert published[name]["required"] is True
        assert published[name]["schema"] == {"type": "integer", "minimum": field.minimum, "maximum": s.MAX_PARAM}
        assert published[name]["description"] == field.help_text


def _problems(serializer, data) -> dict[str, list[str]]:
    with pytest.raises(ValidationFailed) as caught:
        validated(serializer, data)
    return caught.value.details["fields"]


def test_the_words_for_each_mistake():
    assert _problems(s.InclusionProofQuery, {}) == {
        "index": ["this field is required"],
        "tree_size": ["this field is required"],
    }
    assert _problems(s.InclusionProofQuery, {"index": "-1", "tree_size": "0"}) == {
        "index": ["must be a non-negative integer"],
        "tree_size": ["must be at least 1"],
    }
    assert _problems(s.ConsistencyProofQuery, {"first": "1e3", "second": str(2**53 + 1)}) == {
        "first": ["must be a non-negative integer"],
        "second": [f"must be at most {2**53}"],
    }
    assert _problems(s.EntryPath, {"index": "12345678901234567"}) == {"index": [f"must be at most {2**53}"]}
    assert validated(s.ConsistencyProofQuery, {"first": "1", "second": str(2**53)}) == {"first": 1, "second": 2**53}
