"""One helper gives every app its request and correlation ids (issue 13 point 4)."""

from __future__ import annotations

import re
import uuid

from apps.core import context

HYPHENATED_UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_outside_a_request_the_ids_are_generated_in_the_middlewares_format():
    context.set_context(context.RequestContext())
    request_id, correlation_id = context.request_ids()
    assert HYPHENATED_UUID7.match(request_id), request_id
    assert correlation_id == request_id  # one chain started here is one correlation
    assert uuid.UUID(request_id).version == 7
    assert context.request_ids()[0] != request_id  # a new one each time


def test_inside_a_request_the_contexts_ids_are_kept():
    context.set_context(context.RequestContext(request_id="req-1", correlation_id="corr-1"))
    try:
        assert context.request_ids() == ("req-1", "corr-1")
        assert context.request_ids("form-token") == ("form-token", "corr-1")
        context.set_context(context.RequestContext(request_id="req-2"))
        assert context.request_ids() == ("req-2", "req-2")
    finally:
        context.set_context(context.RequestContext())
