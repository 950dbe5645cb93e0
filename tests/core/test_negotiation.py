"""Content negotiation: the common Accept values are answered without DRF's parse, with DRF's own answer."""

from __future__ import annotations

import pytest
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer, StaticHTMLRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from apps.core.api import CommonAcceptNegotiation

ACCEPTS = [None, "*/*", "application/json", "text/html", "application/json; indent=4", "text/*", "", "*/*;q=0.1"]
RENDERER_SETS = [[JSONRenderer], [OpenApiYamlRenderer, OpenApiJsonRenderer], [StaticHTMLRenderer, JSONRenderer]]


def _choice(negotiation, accept: str | None, query: str, renderers: list, suffix: str | None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/v1/x{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, [r() for r in renderers], suffix)
    except exceptions.NotAcceptable:
        return "406"
    return type(renderer), media_type


@pytest.mark.parametrize("renderers", RENDERER_SETS, ids=lambda rs: "+".join(r.__name__ for r in rs))
@pytest.mark.parametrize(("query", "suffix"), [("", None), ("?format=json", None), ("", "json"), ("?page=2", None)])
@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_fast_answer_is_drfs_answer(accept, query, suffix, renderers):
    assert _choice(CommonAcceptNegotiation(), accept, query, renderers, suffix) == _choice(
        DefaultContentNegotiation(), accept, query, renderers, suffix
    )


def test_the_api_uses_it_and_still_refuses_what_it_cannot_render(api):
    refused = api.get("/v1/chat/threads", HTTP_ACCEPT="text/html")  # NotAcceptable, as the envelope's 400
    assert refused.status_code == 400
    assert "Accept" in refused.json()["error"]["details"]["fields"]
    answer = api.get("/v1/chat/threads")
    assert answer.status_code == 401
    assert answer["Content-Type"] == "application/json"
    from rest_framework.settings import api_settings

    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is CommonAcceptNegotiation
