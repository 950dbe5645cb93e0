"""``apps.core.api.validated``: one serializer instance per thread and class, answers as a fresh instance's.

The reuse saves DRF's per-instance deep copy of the declared fields (issue 14 point 3); these tests pin what
must not change with it: the same values and error details as ``is_valid``, nothing kept from the previous
body, a validation nested inside another, and one instance per thread.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rest_framework import serializers

from apps.core.api import validated, validation_error_from
from apps.core.errors import ValidationFailed


class Item(serializers.Serializer):
    name = serializers.CharField(max_length=5)


class Order(serializers.Serializer):
    title = serializers.CharField(max_length=10)
    items = Item(many=True, required=False, default=list)
    seen_keys: list[list[str]] = []
    nested_result: list[dict[str, Any]] = []
    instances: list[int] = []

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        Order.seen_keys.append(sorted(self.initial_data))  # as after Order(data=...)
        Order.instances.append(id(self))
        if attrs["title"] == "nested":  # a validation of the same class while this one runs
            Order.nested_result.append(validated(Order, {"title": "inner"}))
        return attrs


def fresh(data: dict[str, Any]) -> tuple[dict[str, Any] | None, Any]:
    serializer = Order(data=data)
    return (dict(serializer.validated_data), None) if serializer.is_valid() else (None, serializer.errors)


def envelope_details(data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationFailed) as caught:
        validated(Order, data)
    return caught.value.details


@pytest.fixture(autouse=True)
def _clean() -> None:
    Order.seen_keys.clear()
    Order.nested_result.clear()
    Order.instances.clear()


def test_values_and_errors_are_those_of_a_fresh_serializer() -> None:
    good = {"title": "soup", "items": [{"name": "leek"}]}
    assert validated(Order, good) == fresh(good)[0]
    for bad in [{"title": "x" * 11}, {"items": [{"name": "toolong"}]}, {"title": "ok", "items": "no"}, {}]:
        assert envelope_details(bad) == validation_error_from(fresh(bad)[1]).details, bad
    # A bad body, then a good one: nothing of the first remains.
    assert validated(Order, {"title": "soup"}) == {"title": "soup", "items": []}
    assert Order.seen_keys[-1] == ["title"]


def test_the_instance_is_reused_and_lets_go_of_the_body() -> None:
    validated(Order, {"title": "one", "items": []})
    validated(Order, {"title": "two"})
    assert Order.instances[0] == Order.instances[1], "each validation built a new serializer"
    assert Order.seen_keys == [["items", "title"], ["title"]]


def test_a_nested_validation_of_the_same_class_gets_its_own_instance() -> None:
    assert validated(Order, {"title": "nested"}) == {"title": "nested", "items": []}
    assert Order.nested_result == [{"title": "inner", "items": []}]
    assert Order.seen_keys == [["title"], ["title"]]
    assert Order.instances[0] != Order.instances[1]


def test_each_thread_has_its_own_instance() -> None:
    validated(Order, {"title": "main"})
    other = threading.Thread(target=validated, args=(Order, {"title": "worker"}))
    other.start()
    other.join()
    assert len(Order.instances) == 2
    assert Order.instances[0] != Order.instances[1]


def test_with_a_context_a_fresh_instance_validates() -> None:
    validated(Order, {"title": "a"})
    validated(Order, {"title": "b"}, context={"now": 1})
    assert Order.instances[0] != Order.instances[1]
